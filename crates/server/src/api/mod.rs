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
pub(crate) mod respond;
pub(crate) mod search;

use std::sync::Arc;

use ::model::Level;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;

/// The caller with its tenant's SOC state: what the triage API works on
/// (503 while triage is off).
pub(crate) struct Soc {
    pub(crate) state: Arc<state::State>,
    pub(crate) caller: Caller,
}

impl FromRequestParts<Arc<App>> for Soc {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Soc, Response> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let state = app.soc().map_err(IntoResponse::into_response)?;
        Ok(Soc { state, caller })
    }
}

/// A JSON request body, or 400 saying what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Invalid(format!("the request body is not valid here: {e}")))
}

/// Where a page starts and how long it is: `before` is `TIME,ID` of the
/// last row of the page before (its `next`), `limit` 50 unless given.
fn paging(before: Option<&str>, limit: Option<usize>) -> Result<(Option<(Timestamp, i64)>, usize), ApiError> {
    let limit = limit.unwrap_or(50);
    let Some(text) = before.filter(|t| !t.is_empty()) else { return Ok((None, limit)) };
    let parsed = text.split_once(',').and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)));
    match parsed {
        Some(at) => Ok((Some(at), limit)),
        None => Err(ApiError::Invalid(format!("before={text:?}: expected TIME,ID as given in `next`"))),
    }
}

/// One page of a keyset-paged queue, answered under `key`: its rows shown
/// through `view`, and `next`, where the following page starts (`TIME,ID`
/// of the last row), when this one is full.
fn page<'a, T, V: serde::Serialize>(
    tenant: &str,
    key: &str,
    rows: &'a [T],
    limit: usize,
    view: fn(&'a T) -> V,
    position: impl Fn(&T) -> (Timestamp, i64),
) -> serde_json::Value {
    let full = rows.len() == limit.clamp(1, 1000);
    let next = rows.last().filter(|_| full).map(|r| {
        let (t, id) = position(r);
        format!("{t},{id}")
    });
    let shown: Vec<V> = rows.iter().map(view).collect();
    serde_json::json!({"tenant": tenant, key: shown, "next": next})
}

fn level(text: Option<&str>) -> Result<Option<Level>, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Level::parse(t).map(Some).ok_or_else(|| ApiError::Invalid(format!("unknown severity {t:?}"))),
    }
}
