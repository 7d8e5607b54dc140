//! How the layer copies a request for the attempts after the first.

/// Makes the copy of a request that the next attempt sends, or says that there is none.
///
/// Implemented by [`Cloned`] (for `Clone` requests), by every closure or function
/// `Fn(&Req) -> Option<Req>`, such as [`clone_http_request`]. Returning `None` makes the
/// attempt that is about to be sent the last one: its outcome is returned whatever it is,
/// which is what a request with a streaming body needs.
///
/// ```
/// use stamina::tower::CloneRequest;
///
/// /// A request whose payload may be a one-shot stream.
/// enum Payload { Bytes(Vec<u8>), Stream }
///
/// let clone = |payload: &Payload| match payload {
///     Payload::Bytes(bytes) => Some(Payload::Bytes(bytes.clone())),
///     Payload::Stream => None,
/// };
/// assert!(clone.clone_request(&Payload::Bytes(vec![1])).is_some());
/// assert!(clone.clone_request(&Payload::Stream).is_none());
/// ```
pub trait CloneRequest<Req> {
    /// A copy of `request` for another attempt, or `None` when it cannot be sent again.
    fn clone_request(&self, request: &Req) -> Option<Req>;
}

impl<Req, F> CloneRequest<Req> for F
where
    F: Fn(&Req) -> Option<Req>,
{
    fn clone_request(&self, request: &Req) -> Option<Req> {
        self(request)
    }
}

/// Copies requests with [`Clone`]: the default [`CloneRequest`] of a
/// [`RetryLayer`](super::RetryLayer).
///
/// ```
/// use stamina::tower::{CloneRequest, Cloned};
///
/// assert_eq!(Cloned.clone_request(&"GET /"), Some("GET /"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cloned;

impl<Req: Clone> CloneRequest<Req> for Cloned {
    fn clone_request(&self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

/// Copies an [`http::Request`] whose body is `Clone` (`Full<Bytes>`, `String`, `Bytes`, ..):
/// method, URI, version, headers, extensions and body. Pass it to
/// [`RetryLayer::clone_requests_with`](super::RetryLayer::clone_requests_with).
///
/// `http::Request` itself is not `Clone`, because bodies usually are not. For a body that is
/// sometimes a stream, write a closure that returns `None` for the stream.
///
/// ```
/// let request = http::Request::post("http://127.0.0.1/items")
///     .header("x-request-id", "7")
///     .body(String::from("{}"))
///     .unwrap();
/// let copy = stamina::tower::clone_http_request(&request).unwrap();
/// assert_eq!(copy.method(), http::Method::POST);
/// assert_eq!(copy.uri(), request.uri());
/// assert_eq!(copy.headers()["x-request-id"], "7");
/// assert_eq!(copy.body(), "{}");
/// ```
pub fn clone_http_request<B: Clone>(request: &http::Request<B>) -> Option<http::Request<B>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}
