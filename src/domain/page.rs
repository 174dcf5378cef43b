//! Cursor pagination: page tokens are opaque to callers (base64 of a small
//! JSON cursor), never offsets, so a page stays right while rows are added.
use crate::error::AppError;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;

#[derive(Debug, Clone)]
pub struct PageRequest<C> {
    pub size: u64,
    pub after: Option<C>,
}

impl<C: DeserializeOwned> PageRequest<C> {
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, AppError> {
        let size = match page_size {
            n if n < 0 => return Err(AppError::invalid("page_size", "must not be negative")),
            0 => DEFAULT_PAGE_SIZE,
            n => (n as u64).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD
                .decode(page_token)
                .map_err(|_| AppError::invalid("page_token", "is not a token this service issued"))?;
            Some(
                serde_json::from_slice(&bytes)
                    .map_err(|_| AppError::invalid("page_token", "is not a token this service issued"))?,
            )
        };
        Ok(Self { size, after })
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

/// Builds a page from up to `size + 1` rows: the extra row only says there is more.
pub fn page_from<T, C: Serialize>(mut rows: Vec<T>, size: u64, cursor_of: impl Fn(&T) -> C) -> Page<T> {
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next_page_token = match (more, rows.last()) {
        (true, Some(last)) => URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor_of(last)).unwrap_or_default()),
        _ => String::new(),
    };
    Page { items: rows, next_page_token }
}
