use super::{Id, Locale, Module, Tone, contact::Contact};
use crate::clock::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    Company,
    Private,
}

impl CustomerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerKind::Company => "company",
            CustomerKind::Private => "private",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        if s == "private" { CustomerKind::Private } else { CustomerKind::Company }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    pub country_code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsConsentMethod {
    InPerson,
    Phone,
    Written,
    OnlineBooking,
    Hub,
    Import,
}

impl SmsConsentMethod {
    pub const ALL: [SmsConsentMethod; 6] = [
        SmsConsentMethod::InPerson,
        SmsConsentMethod::Phone,
        SmsConsentMethod::Written,
        SmsConsentMethod::OnlineBooking,
        SmsConsentMethod::Hub,
        SmsConsentMethod::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SmsConsentMethod::InPerson => "in_person",
            SmsConsentMethod::Phone => "phone",
            SmsConsentMethod::Written => "written",
            SmsConsentMethod::OnlineBooking => "online_booking",
            SmsConsentMethod::Hub => "hub",
            SmsConsentMethod::Import => "import",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConsent {
    pub granted: bool,
    pub recorded_at: Option<Timestamp>,
    pub method: Option<SmsConsentMethod>,
    pub note: String,
    pub recorded_by: Option<Id>,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Id,
    pub kind: CustomerKind,
    pub company_name: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub email: String,
    pub phone: String,
    pub address: Address,
    pub area_id: Option<Id>,
    pub external_ref: Option<String>,
    pub hub_access: bool,
    pub modules: Vec<Module>,
    pub locale: Option<Locale>,
    pub tone: Option<Tone>,
    pub sms_consent: SmsConsent,
    pub contact_count: i64,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A customer with its contacts, as Get and Create return it.
#[derive(Debug, Clone)]
pub struct CustomerWithContacts {
    pub customer: Customer,
    pub contacts: Vec<Contact>,
}

impl Customer {
    pub fn display_name_of(kind: CustomerKind, company: &str, first: &str, last: &str) -> String {
        match kind {
            CustomerKind::Company => company.to_string(),
            CustomerKind::Private => format!("{first} {last}").trim().to_string(),
        }
    }
}
