//! The attribute's arguments: `key = value` pairs, checked and turned into setter calls.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, MetaNameValue, Token, UnOp};

/// Every key the attribute knows, in the order the docs list them.
const KEYS: &[&str] = &[
    "on",
    "policy",
    "attempts",
    "timeout",
    "wait_initial",
    "wait_max",
    "wait_jitter",
    "wait_exp_base",
    "jitter",
    "retry_after_max",
    "seed",
    "attempt_timeout",
    "name",
    "budget",
    "suppress_nested",
    "on_retry",
    "hedge",
];

/// The jitter families, as config strings name them; the variants of `Jitter` are these names
/// capitalised.
const JITTERS: &[&str] = &["additive", "full", "equal", "decorrelated"];

/// The checked arguments.
pub(crate) struct Args {
    /// The `on` expression, as written.
    pub(crate) on: Expr,
    /// The `policy` expression the setters apply to, if given.
    pub(crate) policy: Option<Expr>,
    /// The `name` expression, if given.
    pub(crate) name: Option<Expr>,
    /// `RetryPolicy` setter calls (`.attempts(3)`), in the order the keys were written.
    pub(crate) setters: Vec<TokenStream>,
    /// Setter calls of the options beyond the policy: `budget`, `suppress_nested`, `on_retry`,
    /// `hedge`.
    pub(crate) options: Vec<TokenStream>,
    /// The `hedge` key, if given.
    pub(crate) hedge: Option<Ident>,
    /// The `attempt_timeout` key and its setter call, made on the async caller or context.
    pub(crate) attempt_timeout: Option<(Ident, TokenStream)>,
}

impl Parse for Args {
    /// Reports every mistake in the arguments at once.
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated(input)?;
        let mut errors = Vec::new();
        let mut seen = Vec::new();
        let (mut on, mut policy, mut name) = (None, None, None);
        let (mut setters, mut options, mut attempt_timeout) = (Vec::new(), Vec::new(), None);
        let mut hedge = None;
        for MetaNameValue { path, value, .. } in pairs {
            let key = path.require_ident()?.clone();
            let key_name = key.to_string();
            if !KEYS.contains(&key_name.as_str()) {
                let expected = one_of(KEYS, '`');
                let message = format!("unknown key `{key_name}`; expected one of: {expected}");
                errors.push(syn::Error::new(key.span(), message));
                continue;
            }
            if seen.contains(&key_name) {
                let message = format!("duplicate key `{key_name}`");
                errors.push(syn::Error::new(key.span(), message));
                continue;
            }
            match (key_name.as_str(), setter(&key, &value)) {
                ("on", _) => on = Some(value),
                ("policy", _) => policy = Some(value),
                ("name", _) => name = Some(value),
                (_, Err(error)) => errors.push(error),
                ("hedge", Ok(setter)) => {
                    options.push(setter);
                    hedge = Some(key);
                }
                ("budget" | "suppress_nested" | "on_retry", Ok(setter)) => options.push(setter),
                ("attempt_timeout", Ok(setter)) => attempt_timeout = Some((key, setter)),
                (_, Ok(setter)) => setters.push(setter),
            }
            seen.push(key_name);
        }
        if on.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `on = ...`: say which errors are worth retrying, \
                 such as `on = is_transient` or `on = |e: &MyError| e.is_timeout()`",
            ));
        }
        let mut errors = errors.into_iter();
        if let Some(mut error) = errors.next() {
            error.extend(errors);
            return Err(error);
        }
        Ok(Self {
            on: on.expect("a missing `on` is an error"),
            policy,
            name,
            setters,
            options,
            hedge,
            attempt_timeout,
        })
    }
}

/// The setter call for `key = value`: a literal is checked here (a humantime string becomes a
/// `Duration`, so that a typo fails the build); any other expression is passed as written, for
/// the compiler to check.
fn setter(key: &Ident, value: &Expr) -> syn::Result<TokenStream> {
    let key_name = key.to_string();
    let span = value.span();
    let none = quote!(#value).to_string() == "None";
    let literal = literal(value);
    let unlimited = none || matches!(literal, Some(Lit::Str(s)) if s.value() == "unlimited");
    let value = match (key_name.as_str(), literal) {
        ("attempts", _) if unlimited => return Ok(quote_spanned!(span=> .unlimited_attempts())),
        ("attempts", Some(Lit::Str(_))) => {
            let message = "expected a number of attempts, `None` or \"unlimited\"";
            return Err(syn::Error::new(span, message));
        }
        ("timeout", _) if none => return Ok(quote_spanned!(span=> .no_timeout())),
        (
            "timeout" | "wait_initial" | "wait_max" | "wait_jitter" | "retry_after_max"
            | "attempt_timeout",
            Some(lit),
        ) => duration(&key_name, lit)?,
        ("wait_exp_base", _) => wait_exp_base(value)?,
        ("jitter", Some(Lit::Str(s))) => jitter(s)?,
        ("budget", _) => quote_spanned!(span=> &(#value)),
        ("hedge", Some(lit @ Lit::Str(_))) => {
            let delay = duration(&key_name, lit)?;
            quote_spanned!(span=> ::stamina::Hedging::after(#delay))
        }
        _ => quote!(#value),
    };
    Ok(match key_name.as_str() {
        // The function's hedging, made once, on first use, so that a delay at a percentile
        // counts the latencies of every call.
        "hedge" => quote_spanned! {span=>
            .hedge({
                static __STAMINA_HEDGE: ::std::sync::LazyLock<::stamina::__private::SharedHedging> =
                    ::std::sync::LazyLock::new(|| ::stamina::__private::SharedHedging::new(#value));
                &*__STAMINA_HEDGE
            })
        },
        // The function's own hook, made once, on first use.
        "on_retry" => quote_spanned! {span=>
            .hooks({
                static __STAMINA_ON_RETRY: ::std::sync::LazyLock<[::stamina::OnRetryHook; 1]> =
                    ::std::sync::LazyLock::new(|| [::stamina::OnRetryHook::new(#value)]);
                &*__STAMINA_ON_RETRY
            })
        },
        _ => quote_spanned!(span=> .#key(#value)),
    })
}

/// A duration literal: a humantime string, parsed here; a number, refused, since it has no unit.
fn duration(key: &str, literal: &Lit) -> syn::Result<TokenStream> {
    let s = match literal {
        Lit::Str(s) => s,
        Lit::Int(_) | Lit::Float(_) => {
            let message = format!(
                "a bare number has no unit: write `{key}` as a duration string such as \"100ms\" \
                 or \"10s\", or as a `Duration` expression"
            );
            return Err(syn::Error::new(literal.span(), message));
        }
        other => return Ok(quote!(#other)),
    };
    let text = s.value();
    let duration = humantime::parse_duration(&text).map_err(|error| {
        let message = format!("invalid duration {text:?} for `{key}`: {error}");
        syn::Error::new(s.span(), message)
    })?;
    let secs = Literal::u64_unsuffixed(duration.as_secs());
    let nanos = Literal::u32_unsuffixed(duration.subsec_nanos());
    Ok(quote_spanned!(s.span()=> ::core::time::Duration::new(#secs, #nanos)))
}

/// A jitter family by its config-string name, as a `Jitter` variant.
fn jitter(s: &LitStr) -> syn::Result<TokenStream> {
    let name = s.value();
    if !JITTERS.contains(&name.as_str()) {
        let expected = one_of(JITTERS, '"');
        let message = format!("unknown jitter {name:?}; expected one of: {expected}");
        return Err(syn::Error::new(s.span(), message));
    }
    let variant = Ident::new(&(name[..1].to_uppercase() + &name[1..]), s.span());
    Ok(quote_spanned!(s.span()=> ::stamina::Jitter::#variant))
}

/// A number literal, possibly negative, checked and written as an `f64`; any other expression
/// as written (checked when the policy is built).
fn wait_exp_base(value: &Expr) -> syn::Result<TokenStream> {
    let (sign, unsigned) = match value {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => (-1.0, &**expr),
        _ => (1.0, value),
    };
    let digits = match literal(unsigned) {
        Some(Lit::Float(float)) => float.base10_digits(),
        Some(Lit::Int(int)) => int.base10_digits(),
        _ => return Ok(quote!(#value)),
    };
    let base = sign * digits.parse::<f64>().unwrap_or(f64::NAN);
    if !base.is_finite() || base < 1.0 {
        let message = format!("`wait_exp_base` must be a finite number >= 1, got {base}");
        return Err(syn::Error::new(value.span(), message));
    }
    let base = Literal::f64_unsuffixed(base);
    Ok(quote!(#base))
}

/// The literal `expr` is, if it is one.
fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

/// `names`, each between `quote`s, separated by commas.
fn one_of(names: &[&str], quote: char) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{quote}{n}{quote}")).collect();
    quoted.join(", ")
}
