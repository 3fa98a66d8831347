//! Shorthands for the checks most tests end with: this thread's reports, the probes' counters.

use asyncdrop::ReportKind;

use super::{assert_counts, take_reports, Counters, Seen};

/// Takes this thread's reports and asserts that there is exactly one, of `kind`.
#[track_caller]
pub fn one_report(kind: ReportKind) -> Seen {
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = reports.into_iter().next().unwrap();
    assert_eq!(report.kind, kind, "{report:?}");
    report
}

/// [`one_report`], naming a type whose name contains `type_fragment`.
#[track_caller]
pub fn one_report_naming(kind: ReportKind, type_fragment: &str) -> Seen {
    let report = one_report(kind);
    let name = report.type_name;
    assert!(
        name.contains(type_fragment),
        "{name} does not name {type_fragment}"
    );
    report
}

/// The kinds of the reports this thread made so far, in order (taken).
pub fn report_kinds() -> Vec<ReportKind> {
    take_reports().into_iter().map(|r| r.kind).collect()
}

/// Asserts that this thread made no report (and takes any there are).
#[track_caller]
pub fn no_reports() {
    let reports = take_reports();
    assert!(reports.is_empty(), "{reports:?}");
}

/// Asserts that `n` probes of `c` were each cleaned up (started, finished) and dropped once.
#[track_caller]
pub fn assert_cleaned(c: &Counters, n: usize) {
    assert_counts(c, n, n, n);
}

/// [`assert_cleaned`], and no report.
#[track_caller]
pub fn cleaned_quietly(c: &Counters, n: usize) {
    assert_cleaned(c, n);
    no_reports();
}

/// [`assert_counts`], and no report.
#[track_caller]
pub fn counts_quietly(c: &Counters, started: usize, finished: usize, drops: usize) {
    assert_counts(c, started, finished, drops);
    no_reports();
}

impl Seen {
    /// Asserts that the report's message contains `part`.
    #[track_caller]
    pub fn says(&self, part: &str) -> &Seen {
        assert!(
            self.message.contains(part),
            "{:?} lacks {part:?}",
            self.message
        );
        self
    }

    /// Asserts that the report names a type whose name ends with `suffix`.
    #[track_caller]
    pub fn of(&self, suffix: &str) -> &Seen {
        assert!(self.type_name.ends_with(suffix), "{}", self.type_name);
        self
    }
}
