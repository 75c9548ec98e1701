//! The REST API under `/api/v1`: one module per area. Handlers take the
//! [`Caller`](crate::auth::Caller) the guard checked, act within its
//! tenant, and answer with the types of `model.rs` or an
//! [`ApiError`](crate::error::ApiError).

pub(crate) mod alerts;
pub(crate) mod config;
pub(crate) mod incidents;
pub(crate) mod journals;
pub mod model;
pub(crate) mod reports;
pub(crate) mod search;

use ::model::Level;
use axum::body::Bytes;
use jiff::Timestamp;

use crate::error::ApiError;

/// A JSON request body, or 400 saying what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Invalid(format!("the request body is not valid here: {e}")))
}

/// `TIME,ID` of the last row of a page.
fn cursor(text: Option<&str>) -> Result<Option<(Timestamp, i64)>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    let parsed = text.split_once(',').and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)));
    parsed.map(Some).ok_or_else(|| ApiError::Invalid(format!("before={text:?}: expected TIME,ID as given in `next`")))
}

/// The `next` of a full page: where the following page starts.
fn next(len: usize, limit: usize, last: Option<(Timestamp, i64)>) -> Option<String> {
    (len == limit.clamp(1, 1000)).then(|| last.map(|(t, id)| format!("{t},{id}"))).flatten()
}

fn level(text: Option<&str>) -> Result<Option<Level>, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Level::parse(t).map(Some).ok_or_else(|| ApiError::Invalid(format!("unknown severity {t:?}"))),
    }
}
