//! The small HTTP server beside gRPC: RFC 8058 one-click unsubscribe (POST,
//! no login, no redirect) and, for people who open the link in a browser, a
//! confirmation page whose button posts to the same address.
use crate::{
    app::{AppState, subscription},
    domain::inbox::SubscriptionSource,
    error::AppError,
};
use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/unsubscribe/{token}", get(confirm_page).post(unsubscribe))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render(&state).await)
        .into_response()
}

const PAGE_TEXT: &str = "Unsubscribe from all automatic e-mails from this business?";

async fn confirm_page(Path(token): Path<String>) -> Html<String> {
    let token = html_escape(&token);
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body>\
         <p>{PAGE_TEXT}</p>\
         <form method=\"post\" action=\"/unsubscribe/{token}\">\
         <input type=\"hidden\" name=\"source\" value=\"page\">\
         <button type=\"submit\">Unsubscribe</button></form></body></html>"
    ))
}

/// A mail client posts `List-Unsubscribe=One-Click`; the page's button posts `source=page`.
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>, body: String) -> Response {
    let from_page = body.split('&').any(|kv| kv == "source=page");
    let (source, shown) = if from_page {
        (SubscriptionSource::Link, PAGE_TEXT)
    } else {
        (SubscriptionSource::OneClick, "one-click unsubscribe from the mail client (RFC 8058)")
    };
    match subscription::unsubscribe_with_token(&state, &token, source, shown).await {
        Ok(_) => (StatusCode::OK, "You are unsubscribed from automatic e-mails.\n").into_response(),
        Err(AppError::NotFound { .. }) | Err(AppError::InvalidArgument(_)) => {
            (StatusCode::NOT_FOUND, "This unsubscribe link is not known.\n").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "one-click unsubscribe failed");
            (StatusCode::SERVICE_UNAVAILABLE, "Please try again in a moment.\n").into_response()
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
