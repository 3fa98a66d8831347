//! No code: the cases are `ui/*/*.rs`, run by `tests/ui.rs`.
