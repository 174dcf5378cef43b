//! tonic answers a request body that is not valid protobuf with INTERNAL (as
//! gRPC's status-code guide suggests), but a malformed request is the
//! caller's mistake, and this service never answers a caller's mistake with
//! INTERNAL: this layer turns it into INVALID_ARGUMENT.
use futures::future::BoxFuture;
use std::task::{Context, Poll};
use tower::{Layer, Service};

#[derive(Clone, Default)]
pub struct DecodeErrorLayer;

impl<S> Layer<S> for DecodeErrorLayer {
    type Service = DecodeErrorService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DecodeErrorService { inner }
    }
}

#[derive(Clone)]
pub struct DecodeErrorService<S> {
    inner: S,
}

fn is_decode_error(headers: &http::HeaderMap) -> bool {
    headers.get("grpc-status").is_some_and(|v| v == "13")
        && headers.get("grpc-message").and_then(|v| v.to_str().ok()).is_some_and(|m| {
            m.starts_with("failed%20to%20decode%20Protobuf%20message")
                || m.starts_with("failed to decode Protobuf message")
        })
}

impl<S, B, RB> Service<http::Request<B>> for DecodeErrorService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            if is_decode_error(res.headers()) {
                res.headers_mut().insert("grpc-status", http::HeaderValue::from_static("3"));
            }
            Ok(res)
        })
    }
}
