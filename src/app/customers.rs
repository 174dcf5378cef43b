use super::{
    AppState, Begin, begin_create,
    customer_input::{
        CUSTOMER_MASK_PATHS, ContactFields, CustomerFields, ValidContact, ValidCustomer, validate_contacts,
        validate_customer,
    },
    field_mask::mask_paths,
    lost_access::{self, LostAccess, changes_private_login},
    welcome,
};
use crate::{
    clock::Timestamp,
    domain::{
        Id, StaffPrincipal,
        caller::CustomerScope,
        customer::{Customer, CustomerKind, CustomerWithContacts, SmsConsent, SmsConsentMethod},
        optional_text,
        page::{Page, PageRequest},
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, Tx, contacts::NewContact, customer_cache::Changed, customers::CustomerFilter},
};
use sea_orm::ConnectionTrait;
use std::sync::Arc;

pub struct CreateCustomer {
    pub customer: CustomerFields,
    pub contacts: Vec<ContactFields>,
    pub send_welcome_mail: bool,
    pub request: crate::domain::RequestKeyInput,
}

/// Area checks that need the database: the area exists, and a supervisor
/// places customers only in its own areas.
async fn check_area(
    conn: &impl ConnectionTrait,
    caller: &StaffPrincipal,
    area: Option<&Id>,
    v: &mut Violations,
) -> AppResult<()> {
    match area {
        Some(a) => {
            if store::areas::existing(conn, &caller.workspace_id, std::slice::from_ref(a)).await?.is_empty() {
                v.add("customer.area_id", "is not an area of this workspace");
            } else if !caller.scope().allows_area(Some(a)) {
                return Err(AppError::PermissionDenied(
                    "supervisors can place customers only in their own areas".into(),
                ));
            }
        }
        None if !caller.is_admin() => {
            v.add("customer.area_id", "is required: supervisors place customers in one of their areas")
        }
        None => {}
    }
    Ok(())
}

pub(crate) fn new_customer(id: Id, c: ValidCustomer, now: Timestamp) -> Customer {
    Customer {
        id,
        kind: c.kind,
        company_name: c.company_name,
        first_name: c.first_name,
        last_name: c.last_name,
        display_name: c.display_name,
        email: c.email,
        phone: c.phone,
        address: c.address,
        area_id: c.area_id,
        external_ref: c.external_ref,
        hub_access: c.hub_access,
        modules: c.modules,
        locale: c.locale,
        tone: c.tone,
        sms_consent: SmsConsent {
            granted: false,
            recorded_at: None,
            method: None,
            note: String::new(),
            recorded_by: None,
        },
        contact_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts a validated customer with its contacts (a private customer gets
/// its implicit contact) and queues welcome mails if asked. Runs in `tx`.
pub(crate) async fn insert_with_contacts(
    state: &AppState,
    tx: &Tx,
    workspace_id: &Id,
    customer: &Customer,
    contacts: &[ValidContact],
    send_welcome_mail: bool,
) -> AppResult<()> {
    let now = state.clock.now();
    store::customers::insert(tx, workspace_id, customer).await?;
    let mut inserted = vec![];
    if customer.kind == CustomerKind::Private {
        let primary = NewContact {
            first_name: customer.first_name.clone(),
            last_name: customer.last_name.clone(),
            email: customer.email.clone(),
            phone: customer.phone.clone(),
            hub_access: customer.hub_access,
            primary: true,
        };
        inserted.push(store::contacts::insert(tx, workspace_id, &customer.id, &Id::generate(), &primary, now).await?);
    }
    for c in contacts {
        inserted.push(
            store::contacts::insert(
                tx,
                workspace_id,
                &customer.id,
                &Id::generate(),
                &new_contact(c, customer.hub_access),
                now,
            )
            .await?,
        );
    }
    if send_welcome_mail {
        let workspace = store::workspace_config::workspace(state, tx, workspace_id).await?;
        for contact in inserted.iter().filter(|c| welcome::preconditions(customer, c).is_empty()) {
            welcome::queue(state, tx, &workspace, customer, contact).await?;
        }
    }
    Ok(())
}

pub(crate) fn new_contact(c: &ValidContact, customer_hub_access: bool) -> NewContact {
    NewContact {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        email: c.email.to_string(),
        phone: c.phone.clone(),
        hub_access: c.hub_access.unwrap_or(customer_hub_access),
        primary: false,
    }
}

pub async fn create(
    state: &AppState,
    caller: &StaffPrincipal,
    req: CreateCustomer,
) -> AppResult<Arc<CustomerWithContacts>> {
    let ws = &caller.workspace_id;
    let mut v = Violations::new();
    let valid = validate_customer(&req.customer, &mut v);
    let contacts = validate_contacts(req.customer.kind, &req.contacts, &mut v);
    if req.send_welcome_mail && !req.customer.hub_access {
        v.add("send_welcome_mail", "needs customer.hub_access: a welcome mail gives HUB access");
    }
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(&req.request)).flatten();
    if let Some(c) = &valid {
        check_area(&state.db, caller, c.area_id.as_ref(), &mut v).await?;
    }
    v.into_result()?;
    let valid = valid.expect("violations are empty");
    let id = Id::generate();
    let tx = match begin_create(state, ws, "CreateCustomer", request_id.as_ref(), &id).await? {
        Begin::Replay(existing) => return get_with_contacts(state, &caller.scope(), &existing).await,
        Begin::Fresh(tx) => tx,
    };
    let customer = new_customer(id.clone(), valid, state.clock.now());
    insert_with_contacts(state, &tx, ws, &customer, &contacts, req.send_welcome_mail).await?;
    tx.commit().await?;
    if req.send_welcome_mail {
        state.outbox_signal.notify_one();
    }
    get_with_contacts(state, &caller.scope(), &id).await
}

async fn get_with_contacts(state: &AppState, scope: &CustomerScope, id: &Id) -> AppResult<Arc<CustomerWithContacts>> {
    store::customer_cache::get(state, scope, id).await
}

pub fn parse_customer_id(field: &str, raw: &str) -> AppResult<Id> {
    Id::parse(raw).map_err(|e| AppError::invalid(field, e))
}

pub async fn get(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<Arc<CustomerWithContacts>> {
    let id = parse_customer_id("customer_id", id)?;
    get_with_contacts(state, &caller.scope(), &id).await
}

pub struct ListCustomers {
    pub query: String,
    pub area_id: String,
    pub kind: Option<CustomerKind>,
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    req: ListCustomers,
    page: PageRequest<store::customers::CustomerCursor>,
) -> AppResult<Page<Customer>> {
    let mut v = Violations::new();
    let area_id = v.check("area_id", Id::parse_optional(&req.area_id)).flatten();
    let query = v.check("query", optional_text(&req.query, 200)).filter(|q| !q.is_empty());
    v.into_result()?;
    let filter = CustomerFilter { query, area_id, kind: req.kind };
    store::customers::list(&state.reads, &caller.scope(), &filter, page).await
}

pub struct UpdateCustomer {
    pub id: String,
    pub fields: CustomerFields,
    pub mask: Vec<String>,
    pub etag: Option<i64>,
}

pub async fn update(
    state: &AppState,
    caller: &StaffPrincipal,
    req: UpdateCustomer,
) -> AppResult<Arc<CustomerWithContacts>> {
    let id = parse_customer_id("customer.id", &req.id)?;
    let paths = mask_paths(&req.mask, CUSTOMER_MASK_PATHS, &["id", "kind", "sms_consent", "contacts"])?;
    let scope = caller.scope();
    let tx = state.db.begin().await?;
    let current = store::customers::get(&tx, &scope, &id).await?;
    if let Some(etag) = req.etag
        && etag != current.version
    {
        return Err(AppError::Aborted("etag does not match: the customer was changed meanwhile".into()));
    }
    if current.kind == CustomerKind::Private && store::privacy::is_erased_customer(&tx, &id).await? {
        return Err(AppError::precondition(
            "ERASED",
            format!("customers/{id}"),
            "this private customer's personal data was erased; what is left is kept for billing and cannot be edited",
        ));
    }
    let mut fields = CustomerFields::from(&current);
    let mut requested = req.fields;
    requested.kind = Some(current.kind);
    fields.apply(&requested, &paths);
    // With an empty mask, names that do not belong to this kind are ignored.
    if req.mask.is_empty() {
        match current.kind {
            CustomerKind::Company => (fields.first_name, fields.last_name) = (String::new(), String::new()),
            CustomerKind::Private => fields.company_name = String::new(),
        }
    }
    let mut v = Violations::new();
    let valid = validate_customer(&fields, &mut v);
    if let Some(c) = &valid
        && c.area_id != current.area_id
    {
        check_area(&tx, caller, c.area_id.as_ref(), &mut v).await?;
    }
    v.into_result()?;
    let valid = valid.expect("violations are empty");
    let now = state.clock.now();
    let mut updated = new_customer(current.id.clone(), valid, current.created_at);
    updated.sms_consent = current.sms_consent.clone();
    updated.version = current.version;
    let unscoped = CustomerScope { workspace_id: caller.workspace_id.clone(), areas: None };
    store::customers::update(&tx, &unscoped, &updated, now).await?;
    if updated.kind == CustomerKind::Private {
        store::contacts::sync_primary(&tx, &updated, now).await?;
    }
    if changes_private_login(&current, &updated) {
        store::contacts::forget_primary_login(&tx, &id).await?;
    }
    if let Some(why) = LostAccess::by_customer_change(&current, &updated) {
        lost_access::for_contacts_of(&tx, &id, why, now).await?;
    }
    store::customer_cache::commit_change(state, tx, Changed::Customer(&id)).await?;
    get_with_contacts(state, &unscoped, &id).await
}

pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    let id = parse_customer_id("customer_id", id)?;
    let tx = state.db.begin().await?;
    store::customers::delete(&tx, &caller.scope(), &id).await?;
    store::inbox::delete_for_customer(&tx, &id).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&id)).await
}

pub struct SetSmsConsent {
    pub customer_id: String,
    pub granted: bool,
    pub method: Option<SmsConsentMethod>,
    pub note: String,
}

pub async fn set_sms_consent(
    state: &AppState,
    caller: &StaffPrincipal,
    req: SetSmsConsent,
) -> AppResult<Arc<CustomerWithContacts>> {
    let mut v = Violations::new();
    let id = v.check("customer_id", Id::parse(&req.customer_id));
    let note = v.check("note", optional_text(&req.note, 500));
    if req.granted && req.method.is_none() {
        v.add("method", "is required when consent is given: say how it was given");
    }
    v.into_result()?;
    let (Some(id), Some(note)) = (id, note) else { unreachable!("violations are empty") };
    let scope = caller.scope();
    let tx = state.db.begin().await?;
    let mut customer = store::customers::get(&tx, &scope, &id).await?;
    let now = state.clock.now();
    customer.sms_consent = SmsConsent {
        granted: req.granted,
        recorded_at: Some(now),
        method: req.method,
        note,
        recorded_by: Some(caller.staff_user_id.clone()),
    };
    store::customers::update(&tx, &scope, &customer, now).await?;
    store::customers::record_consent_event(&tx, &caller.workspace_id, &id, &customer.sms_consent, now).await?;
    if !customer.sms_consent.granted {
        let why = crate::domain::notification::suppress_reason::SMS_CONSENT_WITHDRAWN;
        store::outbox::suppress_queued_book_again_sms(&tx, &id, why, now).await?;
    }
    store::customer_cache::commit_change(state, tx, Changed::Customer(&id)).await?;
    get_with_contacts(state, &scope, &id).await
}
