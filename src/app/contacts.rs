use super::{
    AppState, Begin, begin_create,
    customer_input::{ContactFields, validate_contact},
    customers::new_contact,
    field_mask::mask_paths,
    lost_access::{self, LostAccess},
    welcome,
};
use crate::{
    domain::{
        EmailAddress, Id, PersonName, Phone, StaffPrincipal,
        contact::Contact,
        customer::CustomerKind,
        page::{Page, PageRequest},
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, Tx, customer_cache::Changed},
};

pub async fn create(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    fields: ContactFields,
    send_welcome_mail: bool,
    request: &crate::domain::RequestKeyInput,
) -> AppResult<Contact> {
    let mut v = Violations::new();
    let customer_id = v.check("customer_id", Id::parse(customer_id));
    let valid = validate_contact(&fields, "contact", &mut v);
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(request)).flatten();
    v.into_result()?;
    let (Some(customer_id), Some(valid)) = (customer_id, valid) else { unreachable!("violations are empty") };
    let ws = &caller.workspace_id;
    let scope = caller.scope();
    let customer = store::customers::get(&state.db, &scope, &customer_id).await?;
    if customer.kind == CustomerKind::Private {
        return Err(AppError::invalid(
            "customer_id",
            "a private customer is its own contact and takes no further contacts",
        ));
    }
    let id = Id::generate();
    let tx = match begin_create(state, ws, "CreateContact", request_id.as_ref(), &id).await? {
        Begin::Replay(existing) => return store::contacts::get(&state.db, &scope, &existing).await,
        Begin::Fresh(tx) => tx,
    };
    require_free_email(&tx, &customer_id, valid.email.as_str(), &id).await?;
    let contact = store::contacts::insert(
        &tx,
        ws,
        &customer_id,
        &id,
        &new_contact(&valid, customer.hub_access),
        state.clock.now(),
    )
    .await?;
    if send_welcome_mail {
        let workspace = store::workspace_config::workspace(state, &tx, ws).await?;
        welcome::queue(state, &tx, &workspace, &customer, &contact).await?;
    }
    store::customer_cache::commit_change(state, tx, Changed::Customer(&customer_id)).await?;
    if send_welcome_mail {
        state.outbox_signal.notify_one();
    }
    store::contacts::get_unscoped(&state.db, ws, &id).await
}

pub async fn get(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<Contact> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("contact_id", e))?;
    store::contacts::get(&state.reads, &caller.scope(), &id).await
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    page: PageRequest<String>,
) -> AppResult<Page<Contact>> {
    let id = Id::parse(customer_id).map_err(|e| AppError::invalid("customer_id", e))?;
    store::customers::require_visible(&state.reads, &caller.scope(), &id).await?;
    store::contacts::list(&state.reads, &id, page).await
}

pub const CONTACT_MASK_PATHS: &[&str] = &["first_name", "last_name", "email", "phone", "hub_access"];

pub struct UpdateContact {
    pub id: String,
    pub fields: ContactFields,
    pub mask: Vec<String>,
    pub etag: Option<i64>,
}

pub async fn update(state: &AppState, caller: &StaffPrincipal, req: UpdateContact) -> AppResult<Contact> {
    let id = Id::parse(&req.id).map_err(|e| AppError::invalid("contact.id", e))?;
    let paths = mask_paths(&req.mask, CONTACT_MASK_PATHS, &["id", "customer_id"])?;
    let ws = &caller.workspace_id;
    let tx = state.db.begin().await?;
    let mut contact = store::contacts::get(&tx, &caller.scope(), &id).await?;
    if let Some(etag) = req.etag
        && etag != contact.version
    {
        return Err(AppError::Aborted("etag does not match: the contact was changed meanwhile".into()));
    }
    let mut v = Violations::new();
    let was_open = contact.hub_access;
    let old_email = contact.email.clone();
    for p in &paths {
        let f = &req.fields;
        if contact.primary {
            // With an empty mask every field is listed; only a real change is
            // refused. HUB access too: UpdateCustomer would copy the
            // customer's back over it.
            let unchanged = match p.as_str() {
                "first_name" => f.first_name.trim() == contact.first_name || req.mask.is_empty(),
                "last_name" => f.last_name.trim() == contact.last_name || req.mask.is_empty(),
                "email" => f.email.trim().eq_ignore_ascii_case(&contact.email) || req.mask.is_empty(),
                "phone" => req.mask.is_empty(),
                "hub_access" => f.hub_access.unwrap_or(false) == contact.hub_access || req.mask.is_empty(),
                _ => true,
            };
            if !unchanged {
                v.add(
                    format!("contact.{p}"),
                    "a private customer's contact mirrors the customer: change it with UpdateCustomer",
                );
            }
            continue;
        }
        match p.as_str() {
            "first_name" => {
                if let Some(n) = v.check("contact.first_name", PersonName::parse(&f.first_name)) {
                    contact.first_name = n.as_str().into();
                }
            }
            "last_name" => {
                if let Some(n) = v.check("contact.last_name", PersonName::parse(&f.last_name)) {
                    contact.last_name = n.as_str().into();
                }
            }
            "email" => {
                if let Some(e) = v.check("contact.email", EmailAddress::parse(&f.email)) {
                    contact.email = e.to_string();
                }
            }
            "phone" => {
                if let Some(ph) = v.check("contact.phone", Phone::parse_optional(&f.phone)) {
                    contact.phone = ph.map(|p| p.as_str().to_string()).unwrap_or_default();
                }
            }
            "hub_access" => contact.hub_access = f.hub_access.unwrap_or(false),
            _ => {}
        }
    }
    v.into_result()?;
    // A new login e-mail voids the password and welcome link of the old one
    // (before the update, which answers with the contact as stored).
    if old_email != contact.email {
        require_free_email(&tx, &contact.customer_id, &contact.email, &id).await?;
        store::contacts::forget_login(&tx, &id).await?;
    }
    let now = state.clock.now();
    let updated = store::contacts::update(&tx, ws, &contact, now).await?;
    if let Some(why) = LostAccess::by_contact_change(was_open, updated.hub_access, old_email != updated.email) {
        lost_access::for_contact(&tx, &id, why, now).await?;
    }
    store::customer_cache::commit_change(state, tx, Changed::Customer(&updated.customer_id)).await?;
    Ok(updated)
}

/// One person is one contact per customer (`store::contacts::email_taken`).
/// The customer stays locked until commit, so a concurrent add or edit of
/// the same e-mail waits and then sees this one.
async fn require_free_email(tx: &Tx, customer_id: &Id, email: &str, contact_id: &Id) -> AppResult<()> {
    store::customers::lock(tx, customer_id).await?;
    if store::contacts::email_taken(tx, customer_id, email, contact_id).await? {
        return Err(AppError::invalid("contact.email", "is already the e-mail of another contact of this customer"));
    }
    Ok(())
}

pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("contact_id", e))?;
    let tx = state.db.begin().await?;
    let contact = store::contacts::get(&tx, &caller.scope(), &id).await?;
    if contact.primary {
        return Err(AppError::precondition(
            "PRIVATE_CUSTOMER",
            format!("contacts/{id}"),
            "a private customer's own contact goes with the customer: delete the customer instead",
        ));
    }
    lost_access::for_contact(&tx, &id, LostAccess::Deleted, state.clock.now()).await?;
    store::inbox::delete_for_recipient(&tx, &id).await?;
    store::contacts::delete(&tx, &caller.workspace_id, &id).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&contact.customer_id)).await
}
