//! One tower layer checks every request's bearer token. It never rejects a
//! request itself: it records who is calling in the request's extensions, and
//! each handler demands the caller it serves (`Caller::staff`, `Caller::hub`),
//! so public calls (HUB login, health, reflection) pass untouched.
use crate::{app::AppState, domain::Caller, store};
use futures::future::BoxFuture;
use std::{
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Layer, Service};

/// The state behind one `Arc`: every request takes a handle to it, and
/// `AppState` is a dozen handles of its own.
#[derive(Clone)]
pub struct AuthLayer {
    state: Arc<AppState>,
}

impl AuthLayer {
    pub fn new(state: AppState) -> Self {
        Self { state: Arc::new(state) }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, state: self.state.clone() }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AppState>,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone is not ready; keep the ready one for this call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let token = bearer_token(req.headers());
            let mut caller = match token {
                None => Caller::Anonymous,
                Some(token) => store::credentials::resolve(&state, &token).await,
            };
            if let Some(ws) = caller.workspace_id()
                && !state.rate_limiter.allows(ws.as_str())
            {
                caller = Caller::RateLimited;
            }
            req.extensions_mut().insert(caller);
            inner.call(req).await
        })
    }
}

fn bearer_token(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer chk_abc".parse().unwrap());
        assert_eq!(bearer_token(&h).as_deref(), Some("chk_abc"));
        h.insert(http::header::AUTHORIZATION, "bearer   chk_abc ".parse().unwrap());
        assert_eq!(bearer_token(&h).as_deref(), Some("chk_abc"));
        h.insert(http::header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
