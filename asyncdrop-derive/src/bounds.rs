//! The `where` clause of a derived impl: bounds on the field types that mention the
//! type's parameters, so the type is a resource exactly when its fields are.
//!
//! A bound `AsyncDropGuard<T>: LocalAsyncDrop` would hold but hide that the guard's
//! cleanup is `Send` for `T: AsyncDrop` (a `where` clause is preferred over the impl,
//! and says nothing about the future). So the crate's wrappers are looked through,
//! by name, down to the types inside them: `AsyncDropGuard<T>` and
//! `Option<AsyncDropGuard<T>>` give `T: AsyncDrop` (or `T: LocalAsyncDrop`), and the
//! wrappers' own impls then tell the compiler the whole truth.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{GenericArgument, Ident, PathArguments, Type};

use crate::Mode;

/// The type parameters of the derived type.
pub(crate) struct Params(HashSet<Ident>);

impl Params {
    pub(crate) fn new(generics: &syn::Generics) -> Self {
        Params(generics.type_params().map(|p| p.ident.clone()).collect())
    }

    /// Whether `ty` names one of the parameters.
    pub(crate) fn in_type(&self, ty: &Type) -> bool {
        struct Finder<'a>(&'a HashSet<Ident>, bool);
        impl<'ast> Visit<'ast> for Finder<'_> {
            fn visit_path(&mut self, path: &'ast syn::Path) {
                if path.leading_colon.is_none() {
                    if let Some(first) = path.segments.first() {
                        self.1 |= self.0.contains(&first.ident);
                    }
                }
                syn::visit::visit_path(self, path);
            }
        }
        if self.0.is_empty() {
            return false;
        }
        let mut finder = Finder(&self.0, false);
        finder.visit_type(ty);
        finder.1
    }
}

/// The wrappers looked through, and which type argument is the resource inside.
const WRAPPERS: &[(&str, usize)] = &[
    ("AsyncDropGuard", 0),
    ("Option", 0),
    ("Result", 0),
    ("Vec", 0),
    ("AsyncDropVec", 0),
    ("AsyncDropBTreeMap", 1),
    ("AsyncDropHashMap", 1),
];

/// The resource type argument of a path type whose last segment is one of `names`.
fn type_arg<'a>(ty: &'a Type, names: &[(&str, usize)]) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let (_, index) = names.iter().find(|(name, _)| last.ident == name)?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let arg = args
        .args
        .iter()
        .filter_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .nth(*index)?;
    Some(arg)
}

/// Pushes the bounds that make the resource field type `ty` clean up (with a `Send`
/// cleanup in [`Mode::Send`]).
pub(crate) fn resource(ty: &Type, mode: Mode, params: &Params, out: &mut Vec<TokenStream>) {
    if !params.in_type(ty) {
        return;
    }
    match ty {
        Type::Paren(t) => return resource(&t.elem, mode, params, out),
        Type::Group(t) => return resource(&t.elem, mode, params, out),
        Type::Tuple(t) => {
            for elem in &t.elems {
                resource(elem, mode, params, out);
            }
            return;
        }
        Type::Array(t) => return resource(&t.elem, mode, params, out),
        _ => {}
    }
    if let Some(inner) = type_arg(ty, WRAPPERS) {
        return resource(inner, mode, params, out);
    }
    // `Box<AsyncDropGuard<T>>` is a resource for `T: LocalAsyncDrop`; any other
    // `Box<T>` for `T: AsyncDrop`, which the general bound below says.
    if let Some(inner) = type_arg(ty, &[("Box", 0)]) {
        if let Some(guarded) = type_arg(inner, &[("AsyncDropGuard", 0)]) {
            return resource(guarded, mode, params, out);
        }
    }
    let span = ty.span();
    out.push(match mode {
        Mode::Send => quote_spanned!(span=> #ty: ::asyncdrop::AsyncDrop),
        Mode::Local => quote_spanned!(span=> #ty: ::asyncdrop::LocalAsyncDrop),
    });
}

/// Pushes `ty: Send` for a field of a generic type in [`Mode::Send`].
pub(crate) fn send(ty: &Type, mode: Mode, params: &Params, out: &mut Vec<TokenStream>) {
    if mode == Mode::Send && params.in_type(ty) {
        out.push(quote!(#ty: ::asyncdrop::__private::Send));
    }
}
