//! The expansion: the `AsyncDrop` / `LocalAsyncDrop` impl and, without
//! `error = E`, the generated error type.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Error, Fields, Ident, Member, Result, Type};

use crate::attr::{self, TypeOptions};
use crate::bounds::{self, Params};
use crate::Mode;

/// One field of a struct or variant.
struct Field {
    member: Member,
    bind: Ident,
    ty: Type,
    skip: bool,
}

/// The fields' layout, which the error type copies.
#[derive(Clone, Copy, PartialEq)]
enum Style {
    Named,
    Tuple,
    Unit,
}

/// A struct, or one variant of an enum.
struct Variant {
    /// The variant's name; `None` for a struct.
    name: Option<Ident>,
    style: Style,
    fields: Vec<Field>,
}

impl Variant {
    fn new(name: Option<Ident>, fields: &Fields) -> Result<Variant> {
        let style = match fields {
            Fields::Named(_) => Style::Named,
            Fields::Unnamed(_) => Style::Tuple,
            Fields::Unit => Style::Unit,
        };
        let fields = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                Ok(Field {
                    member: match &f.ident {
                        Some(ident) => Member::Named(ident.clone()),
                        None => Member::Unnamed(i.into()),
                    },
                    // Spanned at the field, so errors about it point there.
                    bind: Ident::new(&format!("__ad_f{i}"), f.ty.span()),
                    ty: f.ty.clone(),
                    skip: attr::is_skipped(&f.attrs)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Variant {
            name,
            style,
            fields,
        })
    }

    fn resources(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.skip)
    }

    /// `Self { a: __ad_f0, .. }` or `Self::V { .. }`.
    fn pattern(&self) -> TokenStream {
        let path = match &self.name {
            Some(name) => quote!(Self::#name),
            None => quote!(Self),
        };
        let members = self.fields.iter().map(|f| &f.member);
        let binds = self.fields.iter().map(|f| &f.bind);
        quote!(#path { #(#members: #binds),* })
    }
}

pub(crate) fn derive(input: TokenStream, mode: Mode) -> TokenStream {
    match syn::parse2(input).and_then(|input| expand(&input, mode)) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

fn expand(input: &DeriveInput, mode: Mode) -> Result<TokenStream> {
    let options = attr::type_options(&input.attrs)?;
    let (is_enum, variants) = match &input.data {
        Data::Struct(data) => (false, vec![Variant::new(None, &data.fields)?]),
        Data::Enum(data) => {
            let variants = data
                .variants
                .iter()
                .map(|v| {
                    attr::reject(&v.attrs, "a variant")?;
                    Variant::new(Some(v.ident.clone()), &v.fields)
                })
                .collect::<Result<_>>()?;
            (true, variants)
        }
        Data::Union(data) => {
            return Err(Error::new(
                data.union_token.span,
                format!(
                    "`#[derive({})]` does not support unions: a union does not know which of its fields holds a value to clean up",
                    mode.trait_name()
                ),
            ))
        }
    };
    if let (Some((span, _)), None) = (&options.before, &options.error) {
        return Err(Error::new(
            *span,
            "`before` needs `#[async_drop(error = E)]`: the derive cannot name the error type of `before`, so give the type both errors convert into with `From`",
        ));
    }

    let name = &input.ident;
    let error_name = format_ident!("{}AsyncDropError", name);
    let params = Params::new(&input.generics);
    let trait_ = mode.trait_path();

    // The where clause: the type's own, plus bounds on its generic field types.
    let mut predicates: Vec<TokenStream> = input
        .generics
        .where_clause
        .iter()
        .flat_map(|w| w.predicates.iter().map(|p| quote!(#p)))
        .collect();
    for field in variants.iter().flat_map(|v| &v.fields) {
        if !field.skip {
            bounds::resource(&field.ty, mode, &params, &mut predicates);
            if let Some(error) = &options.error {
                if params.in_type(&field.ty) {
                    let ty = &field.ty;
                    predicates.push(quote_spanned!(ty.span()=>
                        #error: ::asyncdrop::__private::From<<#ty as ::asyncdrop::LocalAsyncDrop>::Error>
                    ));
                }
            }
        }
        bounds::send(&field.ty, mode, &params, &mut predicates);
    }
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();

    let field_errors: Vec<TokenStream> = variants
        .iter()
        .flat_map(Variant::resources)
        .map(|f| {
            let ty = &f.ty;
            quote_spanned!(ty.span()=> <#ty as ::asyncdrop::__private::Resource>::Error)
        })
        .collect();
    let (error_ty, error_item) = match &options.error {
        Some(error) => (quote!(#error), TokenStream::new()),
        None => {
            let args = (!field_errors.is_empty()).then(|| quote!(<#(#field_errors),*>));
            let item = error_type(input, is_enum, &variants, &error_name);
            (quote!(#error_name #args), item)
        }
    };

    let (method, send) = match mode {
        Mode::Send => (
            quote!(async_drop_impl),
            quote!(+ ::asyncdrop::__private::Send),
        ),
        Mode::Local => (quote!(local_async_drop_impl), TokenStream::new()),
    };
    let body = cleanup_body(&options, mode, is_enum, &variants, &error_name);
    // An enum without variants cannot be cleaned up: there is no value.
    let uninhabited = (is_enum && variants.is_empty()).then(|| quote!(#[allow(unreachable_code)]));

    Ok(quote! {
        #error_item

        #[automatically_derived]
        impl #impl_generics #trait_ for #name #ty_generics where #(#predicates,)* {
            type Error = #error_ty;

            #uninhabited
            fn #method(
                self,
            ) -> impl ::asyncdrop::__private::Future<
                Output = ::asyncdrop::__private::Result<(), Self::Error>,
            > #send {
                #[allow(unused_imports)]
                use ::asyncdrop::__private::{
                    ConvertFrom as _, ConvertNever as _, DebugDetail as _, GuardField as _,
                    GuardOptionField as _, NoDetail as _, PlainField as _,
                };
                #body
            }
        }
    })
}

/// `(&&field(&x)).kind().unguard(x)`: a guard field's value (or an optional guard's
/// optional value), any other field as is.
fn unguard(field: &Field) -> TokenStream {
    let bind = &field.bind;
    quote_spanned! {field.ty.span()=>
        let #bind = (&&::asyncdrop::__private::field(&#bind)).kind().unguard(#bind);
    }
}

/// The body of the cleanup method.
fn cleanup_body(
    options: &TypeOptions,
    mode: Mode,
    is_enum: bool,
    variants: &[Variant],
    error_name: &Ident,
) -> TokenStream {
    let first = options.error.as_ref().map(|_| {
        quote! {
            let mut __ad_first: ::asyncdrop::__private::Option<Self::Error> =
                ::asyncdrop::__private::None;
        }
    });
    let finish = match first {
        Some(_) => quote! {
            match __ad_first {
                ::asyncdrop::__private::Some(__ad_e) => ::asyncdrop::__private::Err(__ad_e),
                ::asyncdrop::__private::None => ::asyncdrop::__private::Ok(()),
            }
        },
        None => quote!(__ad_result),
    };

    // A struct without `before` takes its guard fields out of their guards at once,
    // so that dropping the cleanup unpolled drops them without a report of their own
    // (the parent's guard reports the cancellation). Otherwise the parent is held by
    // a `Parent`, which does the same when dropped before the fields' cleanups start.
    if !is_enum && options.before.is_none() {
        let variant = &variants[0];
        let pattern = variant.pattern();
        let unguard = variant.resources().map(unguard);
        let cleanup = variant_cleanup(options, mode, variant, error_name);
        return quote! {
            let #pattern = self;
            #(#unguard)*
            async move {
                #first
                let __ad_result = #cleanup;
                #finish
            }
        };
    }

    let quiet_arms = variants.iter().map(|v| {
        let pattern = v.pattern();
        let unguard = v.resources().map(unguard);
        let binds = v.fields.iter().map(|f| &f.bind);
        quote! {
            #pattern => {
                #(#unguard)*
                #( ::asyncdrop::__private::drop_field(#binds); )*
            }
        }
    });
    let before = options.before.as_ref().map(|(_, path)| {
        let call = quote_spanned! {path.span()=>
            let __ad_before = ::asyncdrop::__private::before(#path, &mut *__ad_parent).await;
        };
        quote! {
            let mut __ad_parent = __ad_parent;
            #call
        }
    });
    let keep_before = before
        .as_ref()
        .map(|_| keep(quote!(__ad_before), Span::call_site()));
    let arms = variants.iter().map(|v| {
        let pattern = v.pattern();
        let unguard = v.resources().map(unguard);
        let cleanup = variant_cleanup(options, mode, v, error_name);
        quote! {
            #pattern => {
                #(#unguard)*
                #cleanup
            }
        }
    });
    quote! {
        let __ad_parent = ::asyncdrop::__private::Parent::new(self, |__ad_this: Self| match __ad_this {
            #(#quiet_arms)*
        });
        async move {
            #first
            #before
            #keep_before
            let __ad_result = match ::asyncdrop::__private::Parent::release(__ad_parent) {
                #(#arms)*
            };
            #finish
        }
    }
}

/// With `error = E`: converts the error in `result`, if any, and keeps it if it is the
/// first, or reports it.
fn keep(result: TokenStream, span: Span) -> TokenStream {
    quote_spanned! {span=>
        if let ::asyncdrop::__private::Err(__ad_e) = #result {
            let __ad_e: Self::Error =
                (&&::asyncdrop::__private::convert::<Self::Error, _>(&__ad_e)).convert_error(__ad_e);
            if __ad_first.is_none() {
                __ad_first = ::asyncdrop::__private::Some(__ad_e);
            } else {
                ::asyncdrop::__private::report_failed::<Self>(
                    (&&::asyncdrop::__private::Detail(&__ad_e)).detail(),
                );
            }
        }
    }
}

/// Cleans up one struct's or variant's (unguarded) fields; evaluates to the result
/// with the generated error type, or to `()` with `error = E`.
fn variant_cleanup(
    options: &TypeOptions,
    mode: Mode,
    variant: &Variant,
    error_name: &Ident,
) -> TokenStream {
    let resources: Vec<&Field> = variant.resources().collect();
    let cleanups = resources.iter().map(|f| {
        let bind = &f.bind;
        let span = f.ty.span();
        let start = quote_spanned!(span=> ::asyncdrop::__private::PlainKind.cleanup(#bind));
        match mode {
            Mode::Send => quote_spanned!(span=> ::asyncdrop::__private::send_cleanup(#start)),
            Mode::Local => start,
        }
    });
    let skipped: Vec<&Ident> = variant
        .fields
        .iter()
        .filter(|f| f.skip)
        .map(|f| &f.bind)
        .collect();
    let send_checks = match mode {
        Mode::Send => variant
            .fields
            .iter()
            .filter(|f| f.skip)
            .map(|f| {
                let bind = &f.bind;
                quote_spanned!(f.ty.span()=> ::asyncdrop::__private::send_field(&#bind);)
            })
            .collect(),
        Mode::Local => Vec::new(),
    };

    // Every line about one field is spanned at it: errors about the field point
    // there, once.
    let spans: Vec<Span> = resources.iter().map(|f| f.ty.span()).collect();
    let results: Vec<Ident> = spans
        .iter()
        .enumerate()
        .map(|(i, span)| Ident::new(&format!("__ad_r{i}"), *span))
        .collect();
    let run = if options.sequential || resources.len() < 2 {
        let lines = cleanups
            .zip(&results)
            .zip(&spans)
            .map(|((cleanup, result), span)| quote_spanned!(*span=> let #result = #cleanup.await;));
        quote! { #(#lines)* }
    } else {
        // `Cons::new(a, Cons::new(b, Nil))`, awaited into `(ra, (rb, ()))`. Not
        // spanned at a field: each list's type holds the fields after it.
        let list = cleanups.collect::<Vec<_>>().into_iter().rev().fold(
            quote!(::asyncdrop::__private::Nil),
            |tail, cleanup| quote!(::asyncdrop::__private::Cons::new(#cleanup, #tail)),
        );
        let pattern = results
            .iter()
            .rev()
            .fold(quote!(()), |tail, result| quote!((#result, #tail)));
        quote! {
            let #pattern = ::asyncdrop::__private::Join::new(#list).await;
        }
    };

    let outcome = if options.error.is_some() {
        let keeps = resources
            .iter()
            .zip(&results)
            .map(|(f, r)| keep(quote!(#r), f.ty.span()));
        quote! { #(#keeps)* }
    } else if resources.is_empty() {
        quote!(::asyncdrop::__private::Ok(()))
    } else {
        let path = match &variant.name {
            Some(name) => quote!(#error_name::#name),
            None => quote!(#error_name),
        };
        let members = error_members(variant);
        quote! {
            if #( #results.is_ok() )&&* {
                ::asyncdrop::__private::Ok(())
            } else {
                ::asyncdrop::__private::Err(#path { #( #members: #results.err() ),* })
            }
        }
    };
    quote! {{
        #(#send_checks)*
        #run
        #( ::asyncdrop::__private::drop_field(#skipped); )*
        #outcome
    }}
}

/// The members of a variant's error: the resource fields' names, or their positions
/// among the resource fields.
fn error_members(variant: &Variant) -> Vec<Member> {
    variant
        .resources()
        .enumerate()
        .map(|(i, f)| match &f.member {
            Member::Named(ident) => Member::Named(ident.clone()),
            Member::Unnamed(_) => Member::Unnamed(i.into()),
        })
        .collect()
}

/// The generated error type `{Name}AsyncDropError<E0, E1, ..>`: the same shape as
/// the type (a struct, or an enum with a variant per variant that has resource
/// fields), one `Option<Ei>` per resource field.
fn error_type(
    input: &DeriveInput,
    is_enum: bool,
    variants: &[Variant],
    name: &Ident,
) -> TokenStream {
    let vis = &input.vis;
    let type_name = input.ident.to_string();
    let count = variants
        .iter()
        .map(|v| v.resources().count())
        .sum::<usize>();
    let params: Vec<Ident> = (0..count).map(|i| format_ident!("E{}", i)).collect();
    let generics = (!params.is_empty()).then(|| quote!(<#(#params),*>));
    let bounded = |bound: TokenStream| -> Option<TokenStream> {
        (!params.is_empty()).then(|| quote!(<#(#params: #bound),*>))
    };
    let mut next = params.iter();
    let mut shapes = Vec::new();
    for variant in variants {
        let fields: Vec<(Member, &Ident, String)> = error_members(variant)
            .into_iter()
            .map(|m| {
                let shown = match &m {
                    Member::Named(ident) => ident.to_string(),
                    Member::Unnamed(index) => index.index.to_string(),
                };
                (
                    m,
                    next.next().expect("one parameter per resource field"),
                    shown,
                )
            })
            .collect();
        if is_enum && fields.is_empty() {
            continue;
        }
        shapes.push((variant, fields));
    }

    let field_decls = |variant: &Variant, fields: &[(Member, &Ident, String)], vis: TokenStream| {
        let decls = fields.iter().map(|(m, p, shown)| {
            let doc = format!("The error of `{shown}`'s cleanup, if it failed.");
            match m {
                Member::Named(ident) => {
                    quote!(#[doc = #doc] #vis #ident: ::asyncdrop::__private::Option<#p>)
                }
                Member::Unnamed(_) => quote!(#[doc = #doc] #vis ::asyncdrop::__private::Option<#p>),
            }
        });
        match variant.style {
            Style::Named => quote!({ #(#decls),* }),
            Style::Tuple => quote!(( #(#decls),* )),
            Style::Unit => TokenStream::new(),
        }
    };
    let path_of = |variant: &Variant| match &variant.name {
        Some(v) => quote!(Self::#v),
        None => quote!(Self),
    };
    let shown_of = |variant: &Variant| match &variant.name {
        Some(v) => format!("{type_name}::{v}"),
        None => type_name.clone(),
    };
    let binds = |fields: &[(Member, &Ident, String)]| -> Vec<Ident> {
        (0..fields.len())
            .map(|i| format_ident!("__ad_e{}", i))
            .collect()
    };
    let pattern = |variant: &Variant, fields: &[(Member, &Ident, String)]| {
        let path = path_of(variant);
        let members = fields.iter().map(|(m, _, _)| m);
        let binds = binds(fields);
        quote!(#path { #(#members: #binds),* })
    };

    let doc = format!(
        "The errors of `{type_name}`'s cleanup, generated by its `#[derive]`: one `Option` per field that is cleaned up, `Some` for each that failed."
    );
    let item = if is_enum {
        let variant_decls = shapes.iter().map(|(v, fields)| {
            let ident = &v.name;
            let body = field_decls(v, fields, TokenStream::new());
            let doc = format!("The errors of `{}`'s fields.", shown_of(v));
            quote!(#[doc = #doc] #ident #body)
        });
        quote!(#[doc = #doc] #vis enum #name #generics { #(#variant_decls),* })
    } else {
        let (v, fields) = &shapes[0];
        let body = field_decls(v, fields, quote!(#vis));
        let semi = (v.style != Style::Named).then(|| quote!(;));
        quote!(#[doc = #doc] #vis struct #name #generics #body #semi)
    };

    let debug_arms = shapes.iter().map(|(v, fields)| {
        let pattern = pattern(v, fields);
        let shown = v
            .name
            .as_ref()
            .map_or_else(|| name.to_string(), Ident::to_string);
        let binds = binds(fields);
        let body = if v.style == Style::Tuple {
            quote!(__ad_f.debug_tuple(#shown) #(.field(#binds))* .finish())
        } else {
            let names = fields.iter().map(|(_, _, shown)| shown);
            quote!(__ad_f.debug_struct(#shown) #(.field(#names, #binds))* .finish())
        };
        quote!(#pattern => #body,)
    });
    let display_arms = shapes.iter().map(|(v, fields)| {
        let pattern = pattern(v, fields);
        let binds = binds(fields);
        let total = fields.len();
        let header = format!("{{}} of {total} field cleanups of `{}` failed", shown_of(v));
        let parts = fields
            .iter()
            .map(|(_, _, shown)| format!("; {shown}: {{}}"));
        quote! {
            #pattern => {
                let mut __ad_failed = 0;
                #( if #binds.is_some() { __ad_failed += 1; } )*
                ::asyncdrop::__private::write!(__ad_f, #header, __ad_failed)?;
                #(
                    if let ::asyncdrop::__private::Some(__ad_e) = #binds {
                        ::asyncdrop::__private::write!(__ad_f, #parts, __ad_e)?;
                    }
                )*
                ::asyncdrop::__private::Ok(())
            }
        }
    });
    let source_arms = shapes.iter().map(|(v, fields)| {
        let pattern = pattern(v, fields);
        let binds = binds(fields);
        quote! {
            #pattern => {
                #(
                    if let ::asyncdrop::__private::Some(__ad_e) = #binds {
                        return ::asyncdrop::__private::Some(__ad_e);
                    }
                )*
                ::asyncdrop::__private::None
            }
        }
    });
    // An enum without resource fields has no variants: match on the value.
    let scrutinee = if shapes.is_empty() {
        quote!(*self)
    } else {
        quote!(self)
    };
    let defmt_arms = shapes.iter().map(|(v, fields)| {
        let pattern = pattern(v, fields);
        let binds = binds(fields);
        let total = fields.len();
        let shown = shown_of(v);
        let names = fields.iter().map(|(_, _, shown)| shown);
        quote! {
            #pattern => {
                let mut __ad_failed = 0;
                #( if #binds.is_some() { __ad_failed += 1; } )*
                ::asyncdrop::__private::defmt::header(__ad_f, __ad_failed, #total, #shown);
                #(
                    if let ::asyncdrop::__private::Some(__ad_e) = #binds {
                        ::asyncdrop::__private::defmt::field(__ad_f, #names, __ad_e);
                    }
                )*
            }
        }
    });
    let defmt_bounds = bounded(quote!(::asyncdrop::__private::defmt::Format));
    let debug_bounds = bounded(quote!(::asyncdrop::__private::Debug));
    let display_bounds = bounded(quote!(::asyncdrop::__private::Display));
    let error_bounds = bounded(quote!(::asyncdrop::__private::Error + 'static));

    quote! {
        #item

        #[automatically_derived]
        impl #debug_bounds ::asyncdrop::__private::Debug for #name #generics {
            fn fmt(&self, __ad_f: &mut ::asyncdrop::__private::Formatter<'_>) -> ::asyncdrop::__private::FmtResult {
                match #scrutinee { #(#debug_arms)* }
            }
        }

        #[automatically_derived]
        impl #display_bounds ::asyncdrop::__private::Display for #name #generics {
            fn fmt(&self, __ad_f: &mut ::asyncdrop::__private::Formatter<'_>) -> ::asyncdrop::__private::FmtResult {
                match #scrutinee { #(#display_arms)* }
            }
        }

        ::asyncdrop::__defmt_error! {
            #[automatically_derived]
            impl #defmt_bounds ::asyncdrop::__private::defmt::Format for #name #generics {
                fn format(&self, __ad_f: ::asyncdrop::__private::defmt::Formatter<'_>) {
                    match #scrutinee { #(#defmt_arms)* }
                }
            }
        }

        #[automatically_derived]
        impl #error_bounds ::asyncdrop::__private::Error for #name #generics {
            fn source(&self) -> ::asyncdrop::__private::Option<&(dyn ::asyncdrop::__private::Error + 'static)> {
                match #scrutinee { #(#source_arms)* }
            }
        }
    }
}
