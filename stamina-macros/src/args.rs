//! The attribute's arguments: `key = value` pairs, checked and turned into caller setters.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

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
];

/// The jitter families, as config strings name them.
const JITTERS: &[(&str, &str)] = &[
    ("additive", "Additive"),
    ("full", "Full"),
    ("equal", "Equal"),
    ("decorrelated", "Decorrelated"),
];

/// The parsed and checked arguments.
pub(crate) struct Args {
    /// The `on` expression, as written.
    pub(crate) on: Expr,
    /// The `name` expression, if given.
    pub(crate) name: Option<Expr>,
    /// The `policy` expression the setters apply to, if given.
    pub(crate) policy: Option<Expr>,
    /// Setter calls (`.attempts(3)`, `.timeout(..)`), in the order the keys were written.
    pub(crate) setters: Vec<TokenStream>,
    /// The `budget` expression, applied to the caller (not part of the policy).
    pub(crate) budget: Option<Expr>,
    /// The `suppress_nested` expression.
    pub(crate) suppress_nested: Option<Expr>,
    /// The `on_retry` hook expression.
    pub(crate) on_retry: Option<Expr>,
    /// The `attempt_timeout` key and its duration.
    pub(crate) attempt_timeout: Option<(Ident, TokenStream)>,
}

struct KeyValue {
    key: Ident,
    value: Expr,
}

impl Parse for KeyValue {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Self { key, value })
    }
}

/// Collects errors so that one compile reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let pairs = Punctuated::<KeyValue, Token![,]>::parse_terminated(input)?;
        let mut errors = Errors::default();
        let mut seen: Vec<Ident> = Vec::new();
        let mut on = None;
        let mut name = None;
        let mut policy = None;
        let mut setters = Vec::new();
        let mut budget = None;
        let mut suppress_nested = None;
        let mut on_retry = None;
        let mut attempt_timeout = None;
        for KeyValue { key, value } in pairs {
            let key_name = key.to_string();
            if !KEYS.contains(&key_name.as_str()) {
                errors.push(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown key `{key_name}`; expected one of: {}",
                        KEYS.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                continue;
            }
            if seen.contains(&key) {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("duplicate key `{key_name}`"),
                ));
                continue;
            }
            seen.push(key.clone());
            let setter = match key_name.as_str() {
                "on" => {
                    on = Some(value);
                    continue;
                }
                "name" => {
                    name = Some(value);
                    continue;
                }
                "budget" => {
                    budget = Some(value);
                    continue;
                }
                "policy" => {
                    policy = Some(value);
                    continue;
                }
                "suppress_nested" => {
                    suppress_nested = Some(value);
                    continue;
                }
                "on_retry" => {
                    on_retry = Some(value);
                    continue;
                }
                "attempt_timeout" => {
                    match duration(&key, &value) {
                        Ok(d) => attempt_timeout = Some((key, d)),
                        Err(error) => errors.push(error),
                    }
                    continue;
                }
                "attempts" => attempts(&value),
                "timeout" => timeout(&key, &value),
                "wait_exp_base" => wait_exp_base(&value),
                "jitter" => jitter(&value),
                "seed" => seed(&value),
                _ => duration(&key, &value).map(|d| quote_spanned!(key.span()=> .#key(#d))),
            };
            match setter {
                Ok(setter) => setters.push(setter),
                Err(error) => errors.push(error),
            }
        }
        if on.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `on = ...`: say which errors are worth retrying, \
                 such as `on = is_transient` or `on = |e: &MyError| e.is_timeout()`",
            ));
        }
        match (errors.0, on) {
            (Some(errors), _) => Err(errors),
            (None, Some(on)) => Ok(Self {
                on,
                name,
                policy,
                setters,
                budget,
                suppress_nested,
                on_retry,
                attempt_timeout,
            }),
            (None, None) => unreachable!("a missing `on` is an error"),
        }
    }
}

/// `None`, `"unlimited"`, or a `u32` expression.
fn attempts(value: &Expr) -> syn::Result<TokenStream> {
    if is_none(value) {
        return Ok(quote_spanned!(value.span()=> .unlimited_attempts()));
    }
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if s.value() == "unlimited" => Ok(quote_spanned!(s.span()=> .unlimited_attempts())),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Err(syn::Error::new(
            s.span(),
            "expected a number of attempts, `None` or \"unlimited\"",
        )),
        Expr::Lit(ExprLit {
            lit: Lit::Int(n), ..
        }) if n.suffix().is_empty() => {
            let n = n.base10_parse::<u32>().map_err(|_| {
                syn::Error::new(
                    n.span(),
                    "the number of attempts must fit in a `u32`; use `None` for unlimited",
                )
            })?;
            let lit = Literal::u32_unsuffixed(n);
            Ok(quote_spanned!(value.span()=> .attempts(#lit)))
        }
        other => Ok(quote_spanned!(other.span()=> .attempts(#other))),
    }
}

/// A jitter family by its config-string name (checked here), or a `Jitter` expression.
fn jitter(value: &Expr) -> syn::Result<TokenStream> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = value
    else {
        return Ok(quote_spanned!(value.span()=> .jitter(#value)));
    };
    let text = s.value();
    let Some((_, variant)) = JITTERS.iter().find(|(name, _)| *name == text) else {
        return Err(syn::Error::new(
            s.span(),
            format!(
                "unknown jitter {text:?}; expected one of: {}",
                JITTERS
                    .iter()
                    .map(|(name, _)| format!("{name:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let variant = Ident::new(variant, s.span());
    Ok(quote_spanned!(s.span()=> .jitter(::stamina::Jitter::#variant)))
}

/// A `u64` literal (checked here) or expression.
fn seed(value: &Expr) -> syn::Result<TokenStream> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(n), ..
    }) = value
    {
        let n = n
            .base10_parse::<u64>()
            .map_err(|_| syn::Error::new(n.span(), "the seed must fit in a `u64`"))?;
        let lit = Literal::u64_unsuffixed(n);
        return Ok(quote_spanned!(value.span()=> .seed(#lit)));
    }
    Ok(quote_spanned!(value.span()=> .seed(#value)))
}

/// `None`, or a duration.
fn timeout(key: &Ident, value: &Expr) -> syn::Result<TokenStream> {
    if is_none(value) {
        return Ok(quote_spanned!(value.span()=> .no_timeout()));
    }
    let duration = duration(key, value)?;
    Ok(quote_spanned!(key.span()=> .timeout(#duration)))
}

/// A humantime string, parsed here so that a typo fails the build, or a `Duration` expression.
fn duration(key: &Ident, value: &Expr) -> syn::Result<TokenStream> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => parse_duration(key, s),
        Expr::Lit(ExprLit {
            lit: Lit::Int(_) | Lit::Float(_),
            ..
        }) => Err(syn::Error::new(
            value.span(),
            format!(
                "a bare number has no unit: write `{key}` as a duration string such as \"100ms\" \
                 or \"10s\", or as a `Duration` expression"
            ),
        )),
        other => Ok(quote!(#other)),
    }
}

fn parse_duration(key: &Ident, s: &LitStr) -> syn::Result<TokenStream> {
    let text = s.value();
    let duration = humantime::parse_duration(&text).map_err(|error| {
        syn::Error::new(
            s.span(),
            format!("invalid duration {text:?} for `{key}`: {error}"),
        )
    })?;
    let secs = Literal::u64_unsuffixed(duration.as_secs());
    let nanos = Literal::u32_unsuffixed(duration.subsec_nanos());
    Ok(quote_spanned!(s.span()=> ::core::time::Duration::new(#secs, #nanos)))
}

/// A number literal, checked here, or an `f64` expression (checked when the caller is built).
fn wait_exp_base(value: &Expr) -> syn::Result<TokenStream> {
    let literal = match value {
        Expr::Lit(ExprLit { lit, .. }) => Some((lit, false)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((lit, true)),
            _ => None,
        },
        _ => None,
    };
    let Some((lit, negative)) = literal else {
        return Ok(quote_spanned!(value.span()=> .wait_exp_base(#value)));
    };
    let parsed = match lit {
        Lit::Float(f) => f.base10_parse::<f64>(),
        Lit::Int(i) => i.base10_parse::<f64>(),
        _ => Err(syn::Error::new(lit.span(), "expected a number")),
    };
    let base = parsed.map_err(|_| {
        syn::Error::new(value.span(), "`wait_exp_base` must be a finite number >= 1")
    })?;
    let base = if negative { -base } else { base };
    if !base.is_finite() || base < 1.0 {
        return Err(syn::Error::new(
            value.span(),
            format!("`wait_exp_base` must be a finite number >= 1, got {base}"),
        ));
    }
    let lit = Literal::f64_unsuffixed(base);
    Ok(quote_spanned!(value.span()=> .wait_exp_base(#lit)))
}

/// Whether `value` is the path `None`.
fn is_none(value: &Expr) -> bool {
    match value {
        Expr::Path(path) => path.qself.is_none() && path.path.is_ident("None"),
        _ => false,
    }
}
