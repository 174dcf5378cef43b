//! Protobuf ⇄ domain conversions. Enum values a client sends that this
//! server does not know are refused with the field named.
use super::pb;
use crate::{
    app::customer_input::{ContactFields, CustomerFields},
    clock::Timestamp,
    domain::{
        Id, Locale, Module, Role, Tone,
        contact::Contact,
        customer::{Address, Customer, CustomerKind, CustomerWithContacts, SmsConsentMethod},
        workspace::{ApiKeyInfo, Area, SmsPayer, StaffUser, Workspace},
    },
    error::{AppError, Violations},
};

/// A create's `request_id` with the SHA-256 of the whole request as it was
/// encoded: a retry repeats the request, so its fingerprint matches. Without
/// a key there is nothing to compare, and most creates (punches) have none.
pub fn request_key(id: &str, request: &impl prost::Message) -> crate::domain::RequestKeyInput {
    use sha2::{Digest, Sha256};
    let fingerprint =
        if id.trim().is_empty() { String::new() } else { format!("{:x}", Sha256::digest(request.encode_to_vec())) };
    crate::domain::RequestKeyInput { id: id.to_string(), fingerprint }
}

pub fn ts(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

pub fn opt_ts(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(ts)
}

pub fn mask(m: Option<prost_types::FieldMask>) -> Vec<String> {
    m.map(|m| m.paths).unwrap_or_default()
}

/// Etags are the resource version; empty means "don't check".
pub fn etag(field: &str, s: &str) -> Result<Option<i64>, AppError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| AppError::invalid(field, "is not an etag this service issued"))
}

fn unknown(v: &mut Violations, field: &str, value: i32) {
    v.add(field, format!("has an unknown value {value}"));
}

pub fn locale_in(v: &mut Violations, field: &str, value: i32) -> Option<Locale> {
    match pb::Locale::try_from(value) {
        Ok(pb::Locale::Da) => Some(Locale::Da),
        Ok(pb::Locale::En) => Some(Locale::En),
        Ok(pb::Locale::Sv) => Some(Locale::Sv),
        Ok(pb::Locale::Unspecified) => None,
        Err(_) => {
            unknown(v, field, value);
            None
        }
    }
}

pub fn locale_out(l: Option<Locale>) -> i32 {
    match l {
        None => pb::Locale::Unspecified,
        Some(Locale::Da) => pb::Locale::Da,
        Some(Locale::En) => pb::Locale::En,
        Some(Locale::Sv) => pb::Locale::Sv,
    }
    .into()
}

pub fn tone_in(v: &mut Violations, field: &str, value: i32) -> Option<Tone> {
    match pb::Tone::try_from(value) {
        Ok(pb::Tone::Formal) => Some(Tone::Formal),
        Ok(pb::Tone::Casual) => Some(Tone::Casual),
        Ok(pb::Tone::Unspecified) => None,
        Err(_) => {
            unknown(v, field, value);
            None
        }
    }
}

pub fn tone_out(t: Option<Tone>) -> i32 {
    match t {
        None => pb::Tone::Unspecified,
        Some(Tone::Formal) => pb::Tone::Formal,
        Some(Tone::Casual) => pb::Tone::Casual,
    }
    .into()
}

pub fn modules_in(v: &mut Violations, field: &str, values: &[i32]) -> Vec<Module> {
    let mut out = vec![];
    for (i, value) in values.iter().enumerate() {
        match pb::Module::try_from(*value) {
            Ok(pb::Module::PunchCards) => out.push(Module::PunchCards),
            Ok(pb::Module::Timesheets) => out.push(Module::Timesheets),
            Ok(pb::Module::Unspecified) => v.add(format!("{field}[{i}]"), "must be PUNCH_CARDS or TIMESHEETS"),
            Err(_) => unknown(v, &format!("{field}[{i}]"), *value),
        }
    }
    out
}

pub fn modules_out(m: &[Module]) -> Vec<i32> {
    m.iter()
        .map(|m| match m {
            Module::PunchCards => pb::Module::PunchCards as i32,
            Module::Timesheets => pb::Module::Timesheets as i32,
        })
        .collect()
}

pub fn kind_in(v: &mut Violations, field: &str, value: i32) -> Option<CustomerKind> {
    match pb::CustomerKind::try_from(value) {
        Ok(pb::CustomerKind::Company) => Some(CustomerKind::Company),
        Ok(pb::CustomerKind::Private) => Some(CustomerKind::Private),
        Ok(pb::CustomerKind::Unspecified) => None,
        Err(_) => {
            unknown(v, field, value);
            None
        }
    }
}

fn kind_out(k: CustomerKind) -> i32 {
    match k {
        CustomerKind::Company => pb::CustomerKind::Company as i32,
        CustomerKind::Private => pb::CustomerKind::Private as i32,
    }
}

pub fn role_in(v: &mut Violations, field: &str, value: i32) -> Option<Role> {
    match pb::StaffRole::try_from(value) {
        Ok(pb::StaffRole::Admin) => Some(Role::Admin),
        Ok(pb::StaffRole::Supervisor) => Some(Role::Supervisor),
        Ok(pb::StaffRole::Unspecified) => None,
        Err(_) => {
            unknown(v, field, value);
            None
        }
    }
}

fn role_out(r: Role) -> i32 {
    match r {
        Role::Admin => pb::StaffRole::Admin as i32,
        Role::Supervisor => pb::StaffRole::Supervisor as i32,
    }
}

pub fn payer_in(v: &mut Violations, field: &str, value: i32) -> Option<SmsPayer> {
    match pb::SmsPayer::try_from(value) {
        Ok(pb::SmsPayer::Business) | Ok(pb::SmsPayer::Unspecified) => Some(SmsPayer::Business),
        Ok(pb::SmsPayer::StaffMember) => Some(SmsPayer::StaffMember),
        Err(_) => {
            unknown(v, field, value);
            None
        }
    }
}

fn payer_out(p: SmsPayer) -> i32 {
    match p {
        SmsPayer::Business => pb::SmsPayer::Business as i32,
        SmsPayer::StaffMember => pb::SmsPayer::StaffMember as i32,
    }
}

pub fn consent_method_in(v: &mut Violations, field: &str, value: i32) -> Option<SmsConsentMethod> {
    use pb::SmsConsentMethod as P;
    match P::try_from(value) {
        Ok(P::Unspecified) => None,
        Ok(P::InPerson) => Some(SmsConsentMethod::InPerson),
        Ok(P::Phone) => Some(SmsConsentMethod::Phone),
        Ok(P::Written) => Some(SmsConsentMethod::Written),
        Ok(P::OnlineBooking) => Some(SmsConsentMethod::OnlineBooking),
        Ok(P::Hub) => Some(SmsConsentMethod::Hub),
        Ok(P::Import) => Some(SmsConsentMethod::Import),
        Err(_) => {
            unknown(v, field, value);
            None
        }
    }
}

fn consent_method_out(m: Option<SmsConsentMethod>) -> i32 {
    use pb::SmsConsentMethod as P;
    match m {
        None => P::Unspecified,
        Some(SmsConsentMethod::InPerson) => P::InPerson,
        Some(SmsConsentMethod::Phone) => P::Phone,
        Some(SmsConsentMethod::Written) => P::Written,
        Some(SmsConsentMethod::OnlineBooking) => P::OnlineBooking,
        Some(SmsConsentMethod::Hub) => P::Hub,
        Some(SmsConsentMethod::Import) => P::Import,
    }
    .into()
}

pub fn workspace_out(w: Workspace) -> pb::Workspace {
    pb::Workspace {
        id: w.id.to_string(),
        name: w.name,
        time_zone: w.time_zone.name().to_string(),
        default_locale: locale_out(Some(w.default_locale)),
        default_tone: tone_out(Some(w.default_tone)),
        sender_name: w.sender_name,
        sender_email: w.sender_email.to_string(),
        hub_base_url: w.hub_base_url,
        booking_url: w.booking_url,
        sms_enabled: w.sms_enabled,
        sms_price_minor: w.sms_price_minor,
        sms_currency: w.sms_currency,
        book_again_sms_payer: payer_out(w.book_again_sms_payer),
        allow_expired_card_registration: w.allow_expired_card_registration,
        create_time: Some(ts(w.created_at)),
        update_time: Some(ts(w.updated_at)),
        etag: w.version.to_string(),
    }
}

pub fn area_out(a: Area) -> pb::Area {
    pb::Area { id: a.id.to_string(), name: a.name, create_time: Some(ts(a.created_at)) }
}

pub fn staff_out(u: StaffUser) -> pb::StaffUser {
    pb::StaffUser {
        id: u.id.to_string(),
        email: u.email.to_string(),
        name: u.name,
        phone: u.phone,
        role: role_out(u.role),
        area_ids: u.area_ids.into_iter().map(Id::into_string).collect(),
        create_time: Some(ts(u.created_at)),
        update_time: Some(ts(u.updated_at)),
        etag: u.version.to_string(),
    }
}

pub fn api_key_out(k: ApiKeyInfo) -> pb::ApiKey {
    pb::ApiKey {
        id: k.id.to_string(),
        staff_user_id: k.staff_user_id.to_string(),
        name: k.name,
        prefix: k.prefix,
        create_time: Some(ts(k.created_at)),
        revoke_time: opt_ts(k.revoked_at),
    }
}

// By reference: GetCustomer converts a customer shared with the cache.
pub fn contact_out(c: &Contact) -> pb::Contact {
    pb::Contact {
        id: c.id.as_str().to_owned(),
        customer_id: c.customer_id.as_str().to_owned(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        hub_access: c.hub_access,
        welcome_mail: Some(pb::WelcomeMailStatus {
            first_send_time: opt_ts(c.welcome_first_sent_at),
            last_send_time: opt_ts(c.welcome_last_sent_at),
            send_count: c.welcome_send_count,
        }),
        activated: c.activated,
        last_login_time: opt_ts(c.last_login_at),
        subscribed: c.subscribed,
        primary: c.primary,
        create_time: Some(ts(c.created_at)),
        update_time: Some(ts(c.updated_at)),
        etag: c.version.to_string(),
    }
}

pub fn customer_out(c: &Customer, contacts: &[Contact]) -> pb::Customer {
    let id_string = |id: &Option<Id>| id.as_ref().map(|i| i.as_str().to_owned()).unwrap_or_default();
    pb::Customer {
        id: c.id.as_str().to_owned(),
        kind: kind_out(c.kind),
        company_name: c.company_name.clone(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        display_name: c.display_name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        address: Some(pb::Address {
            line1: c.address.line1.clone(),
            line2: c.address.line2.clone(),
            postal_code: c.address.postal_code.clone(),
            city: c.address.city.clone(),
            country_code: c.address.country_code.clone(),
        }),
        area_id: id_string(&c.area_id),
        external_ref: c.external_ref.clone().unwrap_or_default(),
        hub_access: c.hub_access,
        modules: modules_out(&c.modules),
        locale: locale_out(c.locale),
        tone: tone_out(c.tone),
        sms_consent: Some(pb::SmsConsent {
            granted: c.sms_consent.granted,
            record_time: opt_ts(c.sms_consent.recorded_at),
            method: consent_method_out(c.sms_consent.method),
            note: c.sms_consent.note.clone(),
            recorded_by_staff_user_id: id_string(&c.sms_consent.recorded_by),
        }),
        contacts: contacts.iter().map(contact_out).collect(),
        contact_count: c.contact_count as i32,
        create_time: Some(ts(c.created_at)),
        update_time: Some(ts(c.updated_at)),
        etag: c.version.to_string(),
    }
}

pub fn customer_with_contacts_out(c: &CustomerWithContacts) -> pb::Customer {
    customer_out(&c.customer, &c.contacts)
}

/// A customer message as app input; enum mistakes are collected in `v`.
pub fn customer_fields_in(v: &mut Violations, c: pb::Customer) -> CustomerFields {
    let address = c.address.unwrap_or_default();
    CustomerFields {
        kind: kind_in(v, "customer.kind", c.kind),
        company_name: c.company_name,
        first_name: c.first_name,
        last_name: c.last_name,
        email: c.email,
        phone: c.phone,
        address: Address {
            line1: address.line1,
            line2: address.line2,
            postal_code: address.postal_code,
            city: address.city,
            country_code: address.country_code,
        },
        area_id: c.area_id,
        external_ref: c.external_ref,
        hub_access: c.hub_access,
        modules: modules_in(v, "customer.modules", &c.modules),
        locale: locale_in(v, "customer.locale", c.locale),
        tone: tone_in(v, "customer.tone", c.tone),
    }
}

pub fn contact_fields_in(c: pb::ContactInput) -> ContactFields {
    ContactFields {
        first_name: c.first_name,
        last_name: c.last_name,
        email: c.email,
        phone: c.phone,
        hub_access: c.hub_access,
    }
}
