//! What a SOC lead sets for a tenant: suppressions, the asset inventory,
//! SLA policies.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::Soc;
use super::model::{NewSuppression, SlaPolicy};
use super::{body, level};
use crate::error::{ApiError, blocking};

pub(crate) async fn suppressions(Soc { state: soc, caller }: Soc) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let list: Vec<Value> = soc
            .suppressions(&caller.tenant)?
            .into_iter()
            .map(|(s, hits)| json!({"suppression": s, "hits": hits}))
            .collect();
        Ok(Json(json!({"tenant": caller.tenant, "suppressions": list})))
    })
    .await
}

/// When a suppression ends: an offset (`+7d`) from now, or a time.
fn expiry(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, ApiError> {
    let at = match text.strip_prefix('+') {
        Some(offset) => {
            query::time_arg(&format!("-{offset}"), now).and_then(|past| now.checked_add(now.duration_since(past)).ok())
        }
        None => query::time_arg(text, now),
    };
    at.ok_or_else(|| {
        ApiError::Invalid(format!("expires={text:?}: expected a time (RFC 3339) or an offset such as +7d"))
    })
}

pub(crate) async fn add_suppression(Soc { state: soc, caller }: Soc, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let req: NewSuppression = body(&bytes)?;
    blocking(move || {
        let by = caller.by();
        let s = soc::suppress::Suppression {
            id: 0,
            tenant: caller.tenant.clone(),
            rule: req.rule,
            conditions: req.conditions.into_iter().collect(),
            owner: req.owner.unwrap_or_else(|| caller.id.clone()),
            reason: req.reason,
            expires: expiry(&req.expires, by.now)?,
            created: by.now,
        };
        Ok(Json(json!({"suppression": soc.add_suppression(&by, &s)?})))
    })
    .await
}

pub(crate) async fn assets(Soc { state: soc, caller }: Soc) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(json!(soc.assets(&caller.tenant)?)))).await
}

/// Replaces the tenant's inventory: CSV (`text/csv`) or a JSON array.
pub(crate) async fn put_assets(
    Soc { state: soc, caller }: Soc,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    blocking(move || {
        let text = String::from_utf8_lossy(&bytes);
        let inventory =
            if csv { soc::assets::Inventory::from_csv(&text) } else { soc::assets::Inventory::from_json(&text) }
                .map_err(|e| ApiError::Invalid(format!("asset inventory: {e}")))?;
        Ok(Json(json!({"assets": soc.replace_assets(&caller.by(), &inventory)?})))
    })
    .await
}

pub(crate) async fn put_sla(Soc { state: soc, caller }: Soc, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let p: SlaPolicy = body(&bytes)?;
    let severity = level(Some(&p.severity))?.ok_or_else(|| ApiError::Invalid("severity is required".into()))?;
    blocking(move || {
        let minutes = jiff::SignedDuration::from_mins;
        let (ack, resolve) = (minutes(p.acknowledge_minutes), minutes(p.resolve_minutes));
        soc.set_sla_policy(&caller.by(), severity, ack, resolve, &p.calendar)?;
        Ok(Json(json!({"severity": severity, "saved": true})))
    })
    .await
}
