//! Update masks (AIP-134): which fields an Update call changes.
use crate::error::{AppResult, Violations};

/// Checks an update mask against the writable paths; empty means all of them.
pub fn mask_paths(mask: &[String], allowed: &[&str], immutable: &[&str]) -> AppResult<Vec<String>> {
    if mask.is_empty() {
        return Ok(allowed.iter().filter(|p| !p.contains('.')).map(|p| p.to_string()).collect());
    }
    let mut v = Violations::new();
    for p in mask {
        if immutable.contains(&p.as_str()) {
            v.add("update_mask", format!("{p:?} cannot be changed"));
        } else if !allowed.contains(&p.as_str()) {
            v.add("update_mask", format!("{p:?} is not a writable field"));
        }
    }
    v.into_result()?;
    Ok(mask.to_vec())
}
