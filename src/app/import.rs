//! ImportCustomers: each row in its own transaction, matched on its external
//! reference, so re-running an import updates instead of duplicating and a
//! bad row costs only itself.
use super::{
    AppState,
    customer_input::{ContactFields, CustomerFields, validate_contacts, validate_customer},
    customers::{insert_with_contacts, new_contact, new_customer},
    lost_access::{self, LostAccess},
    welcome,
};
use crate::{
    domain::{Id, StaffPrincipal, caller::CustomerScope, customer::CustomerKind},
    error::{AppError, AppResult, FieldViolation, Violations},
    store::{self, TransactionTrait, customer_cache::Changed},
};

pub struct ImportRow {
    pub external_ref: String,
    pub customer: CustomerFields,
    pub contacts: Vec<ContactFields>,
    pub send_welcome_mail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Created(Id),
    Updated(Id),
    Error { message: String, fields: Vec<FieldViolation> },
}

/// Imports are an admin's tool: they may touch customers of every area.
pub fn authorize(caller: &StaffPrincipal) -> AppResult<()> {
    caller.require_admin()
}

/// The caller as its key resolves now, still an admin: an import streams
/// rows for as long as the caller likes, and a key revoked (or a user
/// demoted) meanwhile must stop it.
pub async fn still_authorized(state: &AppState, caller: &StaffPrincipal) -> AppResult<StaffPrincipal> {
    let Some(now) = store::credentials::resolve_api_key_hash(state, caller.key_hash.clone()).await? else {
        return Err(AppError::Unauthenticated("the API key was revoked during the import".into()));
    };
    authorize(&now)?;
    Ok(now)
}

pub async fn import_row(state: &AppState, caller: &StaffPrincipal, row: ImportRow) -> AppResult<RowOutcome> {
    match import_row_inner(state, caller, row).await {
        Ok(outcome) => Ok(outcome),
        Err(AppError::InvalidArgument(v)) => {
            Ok(RowOutcome::Error { message: "the row has invalid fields".into(), fields: v.items().to_vec() })
        }
        Err(e @ (AppError::Unavailable(_) | AppError::Unexpected(_))) => Err(e),
        Err(e) => Ok(RowOutcome::Error { message: e.to_string(), fields: vec![] }),
    }
}

async fn import_row_inner(state: &AppState, caller: &StaffPrincipal, row: ImportRow) -> AppResult<RowOutcome> {
    let ws = &caller.workspace_id;
    let mut v = Violations::new();
    let external_ref = match crate::domain::external_ref(&row.external_ref) {
        Ok(Some(r)) => Some(r),
        Ok(None) => {
            v.add("external_ref", "is required: it is what makes a re-run update instead of duplicate");
            None
        }
        Err(e) => {
            v.add("external_ref", e);
            None
        }
    };
    let mut fields = row.customer;
    fields.external_ref = external_ref.clone().unwrap_or_default();
    let valid = validate_customer(&fields, &mut v);
    let contacts = validate_contacts(fields.kind, &row.contacts, &mut v);
    if let Some(c) = &valid
        && let Some(area) = &c.area_id
        && store::areas::existing(&state.db, ws, std::slice::from_ref(area)).await?.is_empty()
    {
        v.add("customer.area_id", "is not an area of this workspace");
    }
    v.into_result()?;
    let (Some(valid), Some(external_ref)) = (valid, external_ref) else { unreachable!("violations are empty") };
    let now = state.clock.now();
    let all = CustomerScope { workspace_id: ws.clone(), areas: None };
    let tx = state.db.begin().await?;
    let existing = store::customers::find_by_external_ref(&tx, ws, &external_ref).await?;
    let Some(existing_id) = existing else {
        let mut customer = new_customer(Id::generate(), valid, now);
        customer.external_ref = Some(external_ref);
        insert_with_contacts(state, &tx, ws, &customer, &contacts, row.send_welcome_mail).await?;
        tx.commit().await?;
        if row.send_welcome_mail {
            state.outbox_signal.notify_one();
        }
        return Ok(RowOutcome::Created(customer.id));
    };

    let current = store::customers::get(&tx, &all, &existing_id).await?;
    if current.kind != valid.kind {
        return Err(AppError::invalid(
            "customer.kind",
            "differs from the existing customer's kind, which cannot change",
        ));
    }
    let mut updated = current.clone();
    updated.company_name = valid.company_name;
    updated.first_name = valid.first_name;
    updated.last_name = valid.last_name;
    updated.display_name = valid.display_name;
    updated.email = valid.email;
    updated.phone = valid.phone;
    updated.address = valid.address;
    updated.area_id = valid.area_id;
    updated.hub_access = valid.hub_access;
    updated.modules = valid.modules;
    updated.locale = valid.locale;
    updated.tone = valid.tone;
    let updated = store::customers::update(&tx, &all, &updated, now).await?;
    if updated.kind == CustomerKind::Private {
        store::contacts::sync_primary(&tx, &updated, now).await?;
    }
    if lost_access::changes_private_login(&current, &updated) {
        store::contacts::forget_primary_login(&tx, &updated.id).await?;
    }
    if let Some(why) = LostAccess::by_customer_change(&current, &updated) {
        lost_access::for_contacts_of(&tx, &updated.id, why, now).await?;
    }
    // Contacts are matched by e-mail; contacts missing from the row are kept.
    let stored = store::contacts::all_of_customer(&tx, &updated.id).await?;
    for c in &contacts {
        match stored.iter().find(|s| s.email == c.email.as_str()) {
            Some(s) => {
                let was_open = s.hub_access;
                let mut s = s.clone();
                s.first_name = c.first_name.clone();
                s.last_name = c.last_name.clone();
                s.phone = c.phone.clone();
                if let Some(h) = c.hub_access {
                    s.hub_access = h;
                }
                store::contacts::update(&tx, ws, &s, now).await?;
                if let Some(why) = LostAccess::by_contact_change(was_open, s.hub_access, false) {
                    lost_access::for_contact(&tx, &s.id, why, now).await?;
                }
            }
            None => {
                store::contacts::insert(
                    &tx,
                    ws,
                    &updated.id,
                    &Id::generate(),
                    &new_contact(c, updated.hub_access),
                    now,
                )
                .await?;
            }
        }
    }
    if row.send_welcome_mail {
        let workspace = store::workspace_config::workspace(state, &tx, ws).await?;
        for contact in store::contacts::all_of_customer(&tx, &updated.id).await? {
            if contact.welcome_send_count == 0 && welcome::preconditions(&updated, &contact).is_empty() {
                welcome::queue(state, &tx, &workspace, &updated, &contact).await?;
            }
        }
    }
    store::customer_cache::commit_change(state, tx, Changed::Customer(&updated.id)).await?;
    if row.send_welcome_mail {
        state.outbox_signal.notify_one();
    }
    Ok(RowOutcome::Updated(updated.id))
}
