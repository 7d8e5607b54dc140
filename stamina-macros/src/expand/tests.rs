use proc_macro2::TokenStream;
use quote::quote;

use super::retry;

/// The expansion of `#[stamina::retry(args)] item`, pretty-printed.
fn expand(args: TokenStream, item: TokenStream) -> String {
    let tokens = retry(args, item);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(error) => panic!("the expansion does not parse ({error}): {tokens}"),
    }
}

#[test]
fn sync_fn() {
    let out = expand(
        quote!(
            on = is_transient,
            attempts = 3,
            timeout = "1m 30s",
            wait_initial = "250ms"
        ),
        quote! {
            /// Docs.
            #[inline]
            pub fn fetch(mut url: String, client: &Client, log: &mut Vec<u8>) -> Result<u32, Error> {
                url.push('/');
                client.get(&url, log)
            }
        },
    );
    assert_eq!(
        out,
        r#"/// Docs.
#[inline]
pub fn fetch(url: String, client: &Client, log: &mut Vec<u8>) -> Result<u32, Error> {
    ::stamina::__private::call(
        ::stamina::RetryPolicy::new()
            .attempts(3)
            .timeout(::core::time::Duration::new(90, 0))
            .wait_initial(::core::time::Duration::new(0, 250000000)),
        ::core::option::Option::None,
        ::stamina::__private::Options::new(),
        is_transient,
        || -> Result<u32, Error> {
            let mut url = ::stamina::__private::clone_arg(&url);
            let log = &mut *log;
            url.push('/');
            client.get(&url, log)
        },
    )
}
"#
    );
}

#[test]
fn async_fn() {
    let out = expand(
        quote!(
            on = |e| e.is_timeout(),
            attempts = None,
            timeout = None,
            name = "get"
        ),
        quote! {
            async fn get(&self, id: Id) -> io::Result<Vec<u8>> {
                self.fetch(id).await
            }
        },
    );
    assert_eq!(
        out,
        r#"async fn get(&self, id: Id) -> io::Result<Vec<u8>> {
    ::stamina::__private::async_caller(
            ::stamina::RetryPolicy::new().unlimited_attempts().no_timeout(),
            ::core::option::Option::Some(::core::convert::Into::into("get")),
            ::stamina::__private::Options::new(),
            false,
        )
        .call(
            |e: &<io::Result<Vec<u8>> as ::stamina::__private::RetryResult>::Err| {
                e.is_timeout()
            },
            || {
                let id = ::stamina::__private::clone_arg(&id);
                async move {
                    let ret: io::Result<Vec<u8>> = { self.fetch(id).await };
                    ret
                }
            },
        )
        .await
}
"#
    );
}

#[test]
fn async_fn_with_mut_borrows_runs_on_an_attempt_stream() {
    let out = expand(
        quote!(on = is_transient, attempts = 3),
        quote! {
            async fn get(&mut self, id: Id, log: &mut Vec<u8>) -> io::Result<Vec<u8>> {
                self.fetch(id, log).await
            }
        },
    );
    assert_eq!(
        out,
        r#"async fn get(&mut self, id: Id, log: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut attempts = ::stamina::__private::async_context(
            is_transient,
            ::stamina::RetryPolicy::new().attempts(3),
            ::core::option::Option::None,
            ::stamina::__private::Options::new(),
            false,
            || {},
        )
        .into_stream();
    while let ::core::option::Option::Some(attempt) = attempts.next().await {
        let outcome = attempt
            .run(async || {
                let id = ::stamina::__private::clone_arg(&id);
                let log = &mut *log;
                let ret: io::Result<Vec<u8>> = { self.fetch(id, log).await };
                <io::Result<
                    Vec<u8>,
                > as ::stamina::__private::RetryResult>::into_result(ret)
            })
            .await;
        if let ::core::option::Option::Some(result) = outcome.transpose() {
            return <io::Result<
                Vec<u8>,
            > as ::stamina::__private::RetryResult>::from_result(result);
        }
    }
    ::core::unreachable!("a stream of attempts ends with an outcome of `run`")
}
"#
    );
}

#[test]
fn pattern_arguments_are_renamed_and_destructured_per_attempt() {
    let out = expand(
        quote!(on = f, wait_exp_base = 3),
        quote! {
            fn f((a, b): (u32, u32), _: Token, ref r: u32, (c, _): &mut (u32, u32), _: &mut u8, d: &u32) -> Result<u32, E> { Ok(a + b + r + *c + d) }
        },
    );
    assert_eq!(
        out,
        r#"fn f(
    __stamina_arg0: (u32, u32),
    _: Token,
    __stamina_arg2: u32,
    __stamina_arg3: &mut (u32, u32),
    _: &mut u8,
    d: &u32,
) -> Result<u32, E> {
    ::stamina::__private::call(
        ::stamina::RetryPolicy::new().wait_exp_base(3.0),
        ::core::option::Option::None,
        ::stamina::__private::Options::new(),
        f,
        || -> Result<u32, E> {
            let (a, b) = ::stamina::__private::clone_arg(&__stamina_arg0);
            let ref r = ::stamina::__private::clone_arg(&__stamina_arg2);
            let (c, _) = &mut *__stamina_arg3;
            Ok(a + b + r + *c + d)
        },
    )
}
"#
    );
}

#[test]
fn errors_keep_the_item() {
    let tokens = retry(
        quote!(attempts = 3),
        quote!(
            fn f() -> Result<(), E> {
                Ok(())
            }
        ),
    );
    let text = tokens.to_string();
    assert!(text.contains("compile_error"), "{text}");
    assert!(text.contains("missing `on = ...`"), "{text}");
    assert!(text.contains("fn f ()"), "{text}");
}

#[test]
fn the_other_keys_go_to_the_policy_the_options_and_a_static_hook() {
    let out = expand(
        quote!(
            on = f,
            policy = base(),
            jitter = "full",
            seed = 7,
            retry_after_max = "30s",
            attempt_timeout = "2s",
            budget = &self.budget,
            suppress_nested = true,
            on_retry = log_retry
        ),
        quote! {
            async fn f(&self) -> Result<impl Display, E> { Ok(1) }
        },
    );
    assert_eq!(
        out,
        r#"async fn f(&self) -> Result<impl Display, E> {
    ::stamina::__private::async_caller(
            {
                let policy: ::stamina::RetryPolicy = base();
                policy
            }
                .jitter(::stamina::Jitter::Full)
                .seed(7)
                .retry_after_max(::core::time::Duration::new(30, 0)),
            ::core::option::Option::None,
            ::stamina::__private::Options::new()
                .budget(&(&self.budget))
                .suppress_nested(true)
                .hooks({
                    static __STAMINA_ON_RETRY: ::std::sync::LazyLock<
                        [::stamina::OnRetryHook; 1],
                    > = ::std::sync::LazyLock::new(|| [
                        ::stamina::OnRetryHook::new(log_retry),
                    ]);
                    &*__STAMINA_ON_RETRY
                }),
            true,
        )
        .attempt_timeout(::core::time::Duration::new(2, 0))
        .call(
            f,
            || {
                async move {
                    let ret: Result<_, E> = { Ok(1) };
                    ret
                }
            },
        )
        .await
}
"#
    );
}
