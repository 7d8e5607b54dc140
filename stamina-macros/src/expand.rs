//! The expansion: the function's body moves into a closure that a caller runs once per attempt.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    AttrStyle, Expr, FnArg, GenericArgument, Ident, Item, ItemFn, Pat, PatIdent, PatType,
    PathArguments, Receiver, ReceiverKind, ReturnType, Type, parse_quote,
};

use crate::args::Args;

/// Expands `#[stamina::retry(args)] item`; on error, the errors followed by the item unchanged,
/// so that the rest of the crate still sees the function.
pub(crate) fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_retry(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(item);
            tokens
        }
    }
}

fn try_retry(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let item: Item = syn::parse2(item)?;
    let function = match item {
        Item::Fn(function) => function,
        Item::Verbatim(tokens) => {
            return Err(syn::Error::new(
                tokens.span(),
                "`#[stamina::retry]` needs a function with a body",
            ));
        }
        other => {
            return Err(syn::Error::new(
                other.span(),
                "`#[stamina::retry]` applies to functions only",
            ));
        }
    };
    let args: Args = syn::parse2(args)?;
    expand(args, function)
}

/// What each attempt does with one argument before running the body.
enum PerAttempt {
    /// Nothing: a shared reference or a `_` binding.
    Nothing,
    /// `let arg = &mut *arg;`: a fresh reborrow, so the body may move it.
    Reborrow,
    /// `let arg = clone(&arg);`: a fresh copy, so the body may consume it.
    Clone,
}

fn expand(args: Args, mut function: ItemFn) -> syn::Result<TokenStream> {
    if let Some(constness) = function.sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "`#[stamina::retry]` cannot retry a `const fn`: retrying waits, at run time",
        ));
    }
    let is_async = function.sig.asyncness.is_some();
    let ret = return_type(&function)?;
    let mut per_attempt = Vec::new();
    // Whether an attempt reborrows `&mut self` or a `&mut` argument.
    let mut borrows_mut = false;
    for (index, input) in function.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let Some(mutable) = borrowed_mutably(receiver) else {
                    return Err(syn::Error::new(
                        receiver.span(),
                        "`#[stamina::retry]` cannot retry a method that takes `self` by value: \
                         the body may run several times; take `&self` or `&mut self`",
                    ));
                };
                borrows_mut |= mutable;
            }
            FnArg::Typed(arg) => {
                borrows_mut |= is_mut_reference(&arg.ty);
                if let Some(statement) = argument(index, arg)? {
                    per_attempt.push(statement);
                }
            }
        }
    }

    let Args {
        on,
        name,
        policy,
        setters,
        budget,
        suppress_nested,
        on_retry,
        attempt_timeout,
    } = args;
    // Unnamed, the loop is named after the function that holds the body's closure: its path,
    // with the type for a method (`module::Type::method`).
    let name = match &name {
        Some(name) => quote!(::core::option::Option::Some(::core::convert::Into::into(#name))),
        None => quote!(::core::option::Option::None),
    };
    // `impl Trait` in the return type cannot be written in the generated code's types: there it
    // is inferred from the body. The `on` closure's parameter, the error type, does not depend
    // on the success type, which is `()` there.
    let on = annotate_on(on, &replace_impl_trait(ret.clone(), parse_quote!(())));
    let ret = replace_impl_trait(ret, parse_quote!(_));
    // The settings are `RetryPolicy` setters over the given policy or the default one (`const
    // fn`s on literals fold away); the rest goes to the loop's options.
    let base = match &policy {
        Some(policy) => {
            let var = Ident::new("__stamina_policy", Span::mixed_site());
            quote_spanned!(policy.span()=> { let #var: ::stamina::RetryPolicy = #policy; #var })
        }
        None => quote!(::stamina::RetryPolicy::new()),
    };
    let policy = quote! { #base #(#setters)* };
    let budget = budget
        .as_ref()
        .map(|budget| quote_spanned!(budget.span()=> .budget(&(#budget))));
    let suppress_nested = suppress_nested
        .as_ref()
        .map(|choice| quote_spanned!(choice.span()=> .suppress_nested(#choice)));
    // The function's own hook is made once, on first use, and kept in a `static`.
    let hook_var = Ident::new("__STAMINA_ON_RETRY", Span::mixed_site());
    let (hook_static, hooks) = match &on_retry {
        Some(hook) => (
            Some(quote_spanned! {hook.span()=>
                static #hook_var: ::std::sync::LazyLock<[::stamina::OnRetryHook; 1]> =
                    ::std::sync::LazyLock::new(|| [::stamina::OnRetryHook::new(#hook)]);
            }),
            Some(quote!(.hooks(&*#hook_var))),
        ),
        None => (None, None),
    };
    let options = quote! {
        ::stamina::__private::Options::new() #budget #suppress_nested #hooks
    };
    if let (false, Some((key, _))) = (is_async, &attempt_timeout) {
        return Err(syn::Error::new(
            key.span(),
            "`attempt_timeout` cuts an attempt that hangs, which only an `async fn` can have \
             cut; a sync function's attempt runs to its end (use a timeout in the code it calls)",
        ));
    }
    let cut = attempt_timeout.is_some();
    let attempt_timeout = attempt_timeout
        .as_ref()
        .map(|(key, timeout)| quote_spanned!(key.span()=> .attempt_timeout(#timeout)));

    let (inner_attrs, outer_attrs): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    let vis = &function.vis;
    let sig = &function.sig;
    let stmts = &function.block.stmts;
    let ret_var = Ident::new("__stamina_ret", Span::mixed_site());
    let body = if is_async && borrows_mut {
        // Each attempt's future reborrows from the function's arguments, so it is made by an
        // async closure called once per attempt of an attempt stream: unlike a caller's
        // `AsyncFnMut` closure, this keeps the function's future `Send` on today's compilers.
        let attempts = Ident::new("__stamina_attempts", Span::mixed_site());
        let attempt = Ident::new("__stamina_attempt", Span::mixed_site());
        let value = Ident::new("__stamina_value", Span::mixed_site());
        let result = quote!(<#ret as ::stamina::__private::RetryResult>);
        // Named as the callers name their loops: after the function, through a closure in it.
        quote! {
            let mut #attempts = ::stamina::__private::async_context(
                #on,
                #policy,
                #name,
                #options,
                #cut,
                || {},
            )
            #attempt_timeout
            .into_stream();
            while let ::core::option::Option::Some(#attempt) = #attempts.next().await {
                match #attempt
                    .run(async || {
                        #(#per_attempt)*
                        let #ret_var: #ret = { #(#stmts)* };
                        #result::into_result(#ret_var)
                    })
                    .await
                {
                    ::core::result::Result::Ok(::core::option::Option::Some(#value)) => {
                        return #result::from_result(::core::result::Result::Ok(#value));
                    }
                    ::core::result::Result::Ok(::core::option::Option::None) => {}
                    ::core::result::Result::Err(#value) => {
                        return #result::from_result(::core::result::Result::Err(#value));
                    }
                }
            }
            ::core::unreachable!("a stream of attempts ends with an outcome of `run`")
        }
    } else if is_async {
        let caller = quote! {
            ::stamina::__private::async_caller(#policy, #name, #options, #cut) #attempt_timeout
        };
        quote! {
            #caller
                .call(#on, || {
                    #(#per_attempt)*
                    async move {
                        let #ret_var: #ret = { #(#stmts)* };
                        #ret_var
                    }
                })
                .await
        }
    } else {
        quote! {
            ::stamina::__private::call(
                #policy,
                #name,
                #options,
                #on,
                || -> #ret {
                    #(#per_attempt)*
                    #(#stmts)*
                },
            )
        }
    };
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #hook_static
            #body
        }
    })
}

/// The function's return type, if it can be a `Result`. Paths are let through (a type alias
/// may name a `Result`); the generated code checks them with a trait bound.
fn return_type(function: &ItemFn) -> syn::Result<Type> {
    let ty = match &function.sig.output {
        ReturnType::Default => {
            return Err(syn::Error::new(
                function.sig.ident.span(),
                "`#[stamina::retry]` needs a function returning `Result<T, E>`, \
                 and this one returns nothing",
            ));
        }
        ReturnType::Type(_, ty) => ty,
    };
    let mut inner = &**ty;
    loop {
        match inner {
            Type::Paren(paren) => inner = &paren.elem,
            Type::Group(group) => inner = &group.elem,
            Type::Path(_) | Type::Macro(_) => return Ok((**ty).clone()),
            _ => {
                return Err(syn::Error::new(
                    ty.span(),
                    "`#[stamina::retry]` needs a function returning `Result<T, E>`",
                ));
            }
        }
    }
}

/// Whether `ty` is `&mut T` (in parentheses or not).
fn is_mut_reference(mut ty: &Type) -> bool {
    while let Type::Paren(paren) = ty {
        ty = &paren.elem;
    }
    matches!(ty, Type::Reference(reference) if reference.mutability.is_some())
}

/// `ty` with every `impl Trait` in it replaced by `with` (`_`, to be inferred).
fn replace_impl_trait(mut ty: Type, with: Type) -> Type {
    fn visit(ty: &mut Type, with: &Type) {
        let visit = |ty: &mut Type| visit(ty, with);
        match ty {
            Type::ImplTrait(_) => *ty = with.clone(),
            Type::Paren(inner) => visit(&mut inner.elem),
            Type::Group(inner) => visit(&mut inner.elem),
            Type::Reference(inner) => visit(&mut inner.elem),
            Type::Ptr(inner) => visit(&mut inner.elem),
            Type::Slice(inner) => visit(&mut inner.elem),
            Type::Array(inner) => visit(&mut inner.elem),
            Type::Tuple(tuple) => tuple.elems.iter_mut().for_each(visit),
            Type::Path(path) => {
                for segment in &mut path.path.segments {
                    if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                        for arg in &mut args.args {
                            if let GenericArgument::Type(ty) = arg {
                                visit(ty);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    visit(&mut ty, &with);
    ty
}

/// Checks one argument and returns what each attempt does with it; renames a by-value pattern
/// binding (such as `(a, b): (u32, u32)`), which is then destructured from a fresh copy.
fn argument(index: usize, arg: &mut PatType) -> syn::Result<Option<TokenStream>> {
    let mut ty = &*arg.ty;
    while let Type::Paren(paren) = ty {
        ty = &paren.elem;
    }
    let kind = match ty {
        Type::Reference(reference) if reference.mutability.is_some() => PerAttempt::Reborrow,
        Type::Reference(_) => PerAttempt::Nothing,
        _ if matches!(&*arg.pat, Pat::Wild(_)) => PerAttempt::Nothing,
        _ => PerAttempt::Clone,
    };
    let statement = match (&kind, &mut *arg.pat) {
        (PerAttempt::Nothing, _) => None,
        (
            kind,
            Pat::Ident(PatIdent {
                by_ref: None,
                mutability,
                ident,
                subpat: None,
                ..
            }),
        ) => {
            // The parameter itself is never mutated: each attempt's binding is.
            let mutability = mutability.take();
            let span = ident.span();
            Some(match kind {
                PerAttempt::Reborrow => {
                    quote_spanned!(span=> let #mutability #ident = &mut *#ident;)
                }
                _ => {
                    let borrow = quote_spanned!(Span::mixed_site()=> &#ident);
                    quote_spanned!(span=>
                        let #mutability #ident = ::stamina::__private::clone_arg(#borrow);
                    )
                }
            })
        }
        (PerAttempt::Reborrow, _) => None,
        (_, pat) => {
            let span = pat.span();
            let renamed = format_ident!("__stamina_arg{}", index, span = Span::mixed_site());
            let original = std::mem::replace(pat, parse_quote!(#renamed));
            let ty = &arg.ty;
            Some(quote_spanned!(span=>
                let #original: #ty = ::stamina::__private::clone_arg(&#renamed);
            ))
        }
    };
    Ok(statement)
}

/// Whether a receiver taken by reference (`&self`, `&mut self`, `self: &Self`, ...) is `mut`, or
/// `None` for one taken by value (`self`, `self: Box<Self>`, ...).
fn borrowed_mutably(receiver: &Receiver) -> Option<bool> {
    match &receiver.kind {
        ReceiverKind::Reference(_, _, mutability) => Some(mutability.is_some()),
        ReceiverKind::Typed(_, ty) => match &**ty {
            Type::Reference(reference) => Some(reference.mutability.is_some()),
            _ => None,
        },
        _ => None,
    }
}

/// Types the parameter of an `on` closure written without one, as `&` the function's error
/// type, so that `on = |e| ...` compiles.
fn annotate_on(on: Expr, ret: &Type) -> Expr {
    let Expr::Closure(mut closure) = on else {
        return on;
    };
    if closure.inputs.len() == 1 {
        let input = closure.inputs.pop();
        let input = match input {
            Some(Pat::Type(typed)) => Pat::Type(typed),
            Some(pat) => Pat::Type(PatType {
                attrs: Vec::new(),
                pat: Box::new(pat),
                colon_token: Default::default(),
                ty: parse_quote!(&<#ret as ::stamina::__private::RetryResult>::Err),
            }),
            None => unreachable!("one input"),
        };
        closure.inputs.push(input);
    }
    Expr::Closure(closure)
}

#[cfg(test)]
mod tests;
