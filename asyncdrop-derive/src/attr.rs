//! The `#[async_drop(...)]` attributes.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Error, Expr, Result, Type};

/// Options on the type: `#[async_drop(error = E, sequential, before = path)]`.
#[derive(Default)]
pub(crate) struct TypeOptions {
    pub(crate) error: Option<Type>,
    pub(crate) sequential: bool,
    pub(crate) before: Option<(Span, Expr)>,
}

fn is_ours(attr: &Attribute) -> bool {
    attr.path().is_ident("async_drop")
}

/// Parses the type's attributes.
pub(crate) fn type_options(attrs: &[Attribute]) -> Result<TypeOptions> {
    let mut options = TypeOptions::default();
    let mut sequential = None;
    for attr in attrs.iter().filter(|a| is_ours(a)) {
        attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let duplicate = || Error::new(span, "given twice");
            if meta.path.is_ident("error") {
                if options.error.is_some() {
                    return Err(duplicate());
                }
                options.error = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("sequential") {
                if sequential.replace(span).is_some() {
                    return Err(duplicate());
                }
            } else if meta.path.is_ident("before") {
                if options.before.is_some() {
                    return Err(duplicate());
                }
                options.before = Some((span, meta.value()?.parse()?));
            } else if meta.path.is_ident("skip") {
                return Err(meta.error("`skip` goes on a field, not on the type"));
            } else {
                return Err(meta.error(
                    "unknown option: the type takes `error = E`, `sequential` and `before = path`",
                ));
            }
            Ok(())
        })?;
    }
    options.sequential = sequential.is_some();
    Ok(options)
}

/// Whether a field is `#[async_drop(skip)]`.
pub(crate) fn is_skipped(attrs: &[Attribute]) -> Result<bool> {
    let mut skip = false;
    for attr in attrs.iter().filter(|a| is_ours(a)) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(meta.error("unknown option: a field takes `skip`"))
            }
        })?;
    }
    Ok(skip)
}

/// Rejects `#[async_drop(...)]` where it means nothing (on a variant).
pub(crate) fn reject(attrs: &[Attribute], what: &str) -> Result<()> {
    match attrs.iter().find(|a| is_ours(a)) {
        Some(attr) => Err(Error::new_spanned(
            attr,
            format!("`#[async_drop(...)]` does not go on {what}: put it on the type or on a field"),
        )),
        None => Ok(()),
    }
}
