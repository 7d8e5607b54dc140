//! How the layer copies a request for the attempts after the first.

/// Makes the copy of a request that the next attempt sends, or says that there is none.
///
/// Implemented by [`Cloned`] (for `Clone` requests, the default) and by every closure or
/// function `Fn(&Req) -> Option<Req>`. Returning `None` makes the attempt that is about to be
/// sent the last one: its outcome is returned whatever it is, and `on` is not asked about it,
/// which is what a request with a streaming body needs.
///
/// An `http::Request<B>` is `Clone` when its body `B` is (`Full<Bytes>`, `String`, `Bytes`,
/// ..., with extensions that are `Clone` too), so [`Cloned`] copies it. A closure is needed
/// for a body that is not `Clone` but can sometimes be copied: for instance an enum of bytes or
/// a stream, whose stream arm returns `None`.
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
