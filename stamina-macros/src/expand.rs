//! The expansion: the function's body moves into a closure that a caller runs once per attempt.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Expr, FnArg, Item, ItemFn, Pat, PatIdent, PatType, ReceiverKind, ReturnType, Signature, Stmt,
    Type, parse_quote,
};

use crate::args::Args;

/// Expands `#[stamina::retry(args)] item`; on error, the errors followed by the item unchanged,
/// so that the rest of the crate still sees the function.
pub(crate) fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    let expanded = syn::parse2(item.clone()).and_then(|item| match item {
        Item::Fn(function) => expand(syn::parse2(args)?, function),
        Item::Verbatim(tokens) => Err(syn::Error::new(
            tokens.span(),
            "`#[stamina::retry]` needs a function with a body",
        )),
        other => Err(syn::Error::new(
            other.span(),
            "`#[stamina::retry]` applies to functions only",
        )),
    });
    expanded.unwrap_or_else(|error| {
        let mut tokens = error.to_compile_error();
        tokens.extend(item);
        tokens
    })
}

fn expand(args: Args, mut function: ItemFn) -> syn::Result<TokenStream> {
    let sig = &mut function.sig;
    if let Some(constness) = sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "`#[stamina::retry]` cannot retry a `const fn`: retrying waits, at run time",
        ));
    }
    let is_async = sig.asyncness.is_some();
    if let (false, Some((key, _))) = (is_async, &args.attempt_timeout) {
        return Err(syn::Error::new(
            key.span(),
            "`attempt_timeout` cuts an attempt that hangs, which only an `async fn` can have \
             cut; a sync function's attempt runs to its end (use a timeout in the code it calls)",
        ));
    }
    if let (false, Some(key)) = (is_async, &args.hedge) {
        return Err(syn::Error::new(
            key.span(),
            "`hedge` sends another attempt while one is out, which only an `async fn` can do; \
             a sync function's attempts run one after another",
        ));
    }
    let ret = return_type(sig)?;
    let mut per_attempt = Vec::new();
    // Whether an attempt reborrows `&mut self` or a `&mut` argument.
    let mut borrows_mut = false;
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let borrowed = match &receiver.kind {
                    ReceiverKind::Reference(_, _, mutability) => Some(mutability.is_some()),
                    ReceiverKind::Typed(_, ty) => borrow(ty),
                    _ => None,
                };
                borrows_mut |= borrowed.ok_or_else(|| {
                    syn::Error::new(
                        receiver.span(),
                        "`#[stamina::retry]` cannot retry a method that takes `self` by value: \
                         the body may run several times; take `&self` or `&mut self`",
                    )
                })?;
            }
            FnArg::Typed(arg) => {
                borrows_mut |= borrow(&arg.ty) == Some(true);
                per_attempt.extend(argument(index, arg));
            }
        }
    }
    if let (true, Some(key)) = (borrows_mut, &args.hedge) {
        return Err(syn::Error::new(
            key.span(),
            "`hedge` runs attempts at the same time, and each attempt of this function borrows \
             `&mut self` or a `&mut` argument: take `&self` and shared arguments to hedge",
        ));
    }

    // Unnamed, the loop is named after the function that holds the body's closure: its path,
    // with the type for a method (`module::Type::method`).
    let name = match args.name {
        Some(name) => quote!(::core::option::Option::Some(::core::convert::Into::into(#name))),
        None => quote!(::core::option::Option::None),
    };
    // `impl Trait` in the return type cannot be written in the generated code's types: there it
    // is inferred from the body. The `on` closure's parameter, the error type, does not depend
    // on the success type, which is `()` there.
    let on = annotate_on(args.on, &replace_impl_trait(&ret, parse_quote!(())));
    let ret = replace_impl_trait(&ret, parse_quote!(_));
    // The settings are `RetryPolicy` setters over the given policy or the default one (`const
    // fn`s on literals fold away); the rest goes to the loop's options.
    let base = match args.policy {
        Some(policy) => {
            quote_spanned!(policy.span()=> { let policy: ::stamina::RetryPolicy = #policy; policy })
        }
        None => quote!(::stamina::RetryPolicy::new()),
    };
    let (setters, options) = (args.setters, args.options);
    let policy = quote!(#base #(#setters)*);
    let options = quote!(::stamina::__private::Options::new() #(#options)*);
    let cut = args.attempt_timeout.is_some();
    let attempt_timeout = args.attempt_timeout.map(|(_, setter)| setter);
    let stmts = std::mem::take(&mut function.block.stmts);
    // The async bodies' locals (`attempts`, `ret`, ...) are hygienic: the body sees its arguments.
    let body = if is_async && borrows_mut {
        // Each attempt's future reborrows from the function's arguments, so it is made by an
        // async closure called once per attempt of an attempt stream: unlike a caller's
        // `AsyncFnMut` closure, this keeps the function's future `Send` on today's compilers.
        // Named as the callers name their loops: after the function, through a closure in it.
        let convert = quote!(<#ret as ::stamina::__private::RetryResult>);
        quote_spanned! {Span::mixed_site()=>
            let mut attempts = ::stamina::__private::async_context(
                #on,
                #policy,
                #name,
                #options,
                #cut,
                || {},
            )
            #attempt_timeout
            .into_stream();
            while let ::core::option::Option::Some(attempt) = attempts.next().await {
                let outcome = attempt
                    .run(async || {
                        #(#per_attempt)*
                        let ret: #ret = { #(#stmts)* };
                        #convert::into_result(ret)
                    })
                    .await;
                if let ::core::option::Option::Some(result) = outcome.transpose() {
                    return #convert::from_result(result);
                }
            }
            ::core::unreachable!("a stream of attempts ends with an outcome of `run`")
        }
    } else if is_async {
        quote_spanned! {Span::mixed_site()=>
            ::stamina::__private::async_caller(#policy, #name, #options, #cut)
                #attempt_timeout
                .call(#on, || {
                    #(#per_attempt)*
                    async move {
                        let ret: #ret = { #(#stmts)* };
                        ret
                    }
                })
                .await
        }
    } else {
        quote! {
            ::stamina::__private::call(#policy, #name, #options, #on, || -> #ret {
                #(#per_attempt)*
                #(#stmts)*
            })
        }
    };
    function.block.stmts = vec![Stmt::Expr(Expr::Verbatim(body), None)];
    Ok(function.into_token_stream())
}

/// The function's return type, if it can be a `Result`. Paths are let through (a type alias
/// may name a `Result`); the generated code checks them with a trait bound.
fn return_type(sig: &Signature) -> syn::Result<Type> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Err(syn::Error::new(
            sig.ident.span(),
            "`#[stamina::retry]` needs a function returning `Result<T, E>`, \
             and this one returns nothing",
        ));
    };
    match unparen(ty) {
        Type::Path(_) | Type::Macro(_) => Ok((**ty).clone()),
        _ => Err(syn::Error::new(
            ty.span(),
            "`#[stamina::retry]` needs a function returning `Result<T, E>`",
        )),
    }
}

/// `ty` without the parentheses (or invisible groups) around it.
fn unparen(ty: &Type) -> &Type {
    match ty {
        Type::Paren(paren) => unparen(&paren.elem),
        Type::Group(group) => unparen(&group.elem),
        ty => ty,
    }
}

/// Whether `ty` is a mutable (`Some(true)`) or shared (`Some(false)`) reference; `None` for a
/// type taken by value.
fn borrow(ty: &Type) -> Option<bool> {
    match unparen(ty) {
        Type::Reference(reference) => Some(reference.mutability.is_some()),
        _ => None,
    }
}

/// The statement that gives each attempt its own view of an argument: a reborrow of a `&mut T`,
/// a clone of a value (the body may consume it); none for a `&T` or a `_`. A pattern other than
/// a name (`(a, b): (u32, u32)`) is renamed in the signature and bound by that statement.
fn argument(index: usize, arg: &mut PatType) -> Option<TokenStream> {
    let reborrow = match borrow(&arg.ty) {
        _ if matches!(*arg.pat, Pat::Wild(_)) => return None,
        Some(false) => return None,
        Some(true) => true,
        None => false,
    };
    let span = arg.pat.span();
    let param = match &*arg.pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) => ident.clone(),
        _ => format_ident!("__stamina_arg{index}", span = Span::mixed_site()),
    };
    // The parameter itself is never mutated: each attempt's binding is.
    let binding = std::mem::replace(&mut *arg.pat, parse_quote!(#param));
    Some(if reborrow {
        quote_spanned!(span=> let #binding = &mut *#param;)
    } else {
        let borrow = quote_spanned!(Span::mixed_site()=> &#param);
        quote_spanned!(span=> let #binding = ::stamina::__private::clone_arg(#borrow);)
    })
}

/// `ty` with every `impl Trait` in it replaced by `with` (`_`, to be inferred).
fn replace_impl_trait(ty: &Type, with: Type) -> Type {
    struct Replace(Type);
    impl VisitMut for Replace {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            match ty {
                Type::ImplTrait(_) => *ty = self.0.clone(),
                _ => visit_mut::visit_type_mut(self, ty),
            }
        }
    }
    let mut ty = ty.clone();
    Replace(with).visit_type_mut(&mut ty);
    ty
}

/// Types the parameter of an `on` closure written without one, as `&` the function's error
/// type, so that `on = |e| ...` compiles.
fn annotate_on(mut on: Expr, ret: &Type) -> Expr {
    if let Expr::Closure(closure) = &mut on {
        if closure.inputs.len() == 1 && !matches!(closure.inputs[0], Pat::Type(_)) {
            let pat = Box::new(closure.inputs[0].clone());
            closure.inputs[0] = Pat::Type(PatType {
                attrs: Vec::new(),
                pat,
                colon_token: Default::default(),
                ty: parse_quote!(&<#ret as ::stamina::__private::RetryResult>::Err),
            });
        }
    }
    on
}

#[cfg(test)]
mod tests;
