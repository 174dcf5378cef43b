//! Customer and contact fields as callers send them, and their parsing into
//! values the store may write. Field paths in violations follow the API
//! (`customer.email`, `contacts[2].first_name`).
use crate::{
    domain::{
        DisplayName, EmailAddress, Id, Locale, Module, PersonName, Phone, Tone, country_code,
        customer::{Address, Customer, CustomerKind},
        external_ref, optional_text,
    },
    error::Violations,
};

#[derive(Debug, Default, Clone)]
pub struct CustomerFields {
    pub kind: Option<CustomerKind>,
    pub company_name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub address: Address,
    pub area_id: String,
    pub external_ref: String,
    pub hub_access: bool,
    pub modules: Vec<Module>,
    pub locale: Option<Locale>,
    pub tone: Option<Tone>,
}

impl From<&Customer> for CustomerFields {
    fn from(c: &Customer) -> Self {
        Self {
            kind: Some(c.kind),
            company_name: c.company_name.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            address: c.address.clone(),
            area_id: c.area_id.as_ref().map(Id::to_string).unwrap_or_default(),
            external_ref: c.external_ref.clone().unwrap_or_default(),
            hub_access: c.hub_access,
            modules: c.modules.clone(),
            locale: c.locale,
            tone: c.tone,
        }
    }
}

/// The writable customer fields an update mask may name.
pub const CUSTOMER_MASK_PATHS: &[&str] = &[
    "company_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "address.line1",
    "address.line2",
    "address.postal_code",
    "address.city",
    "address.country_code",
    "area_id",
    "external_ref",
    "hub_access",
    "modules",
    "locale",
    "tone",
];

impl CustomerFields {
    /// Copies the fields named by `paths` from `from` (an update request).
    pub fn apply(&mut self, from: &CustomerFields, paths: &[String]) {
        for p in paths {
            match p.as_str() {
                "company_name" => self.company_name = from.company_name.clone(),
                "first_name" => self.first_name = from.first_name.clone(),
                "last_name" => self.last_name = from.last_name.clone(),
                "email" => self.email = from.email.clone(),
                "phone" => self.phone = from.phone.clone(),
                "address" => self.address = from.address.clone(),
                "address.line1" => self.address.line1 = from.address.line1.clone(),
                "address.line2" => self.address.line2 = from.address.line2.clone(),
                "address.postal_code" => self.address.postal_code = from.address.postal_code.clone(),
                "address.city" => self.address.city = from.address.city.clone(),
                "address.country_code" => self.address.country_code = from.address.country_code.clone(),
                "area_id" => self.area_id = from.area_id.clone(),
                "external_ref" => self.external_ref = from.external_ref.clone(),
                "hub_access" => self.hub_access = from.hub_access,
                "modules" => self.modules = from.modules.clone(),
                "locale" => self.locale = from.locale,
                "tone" => self.tone = from.tone,
                _ => {}
            }
        }
    }
}

/// Customer fields that passed every check that needs no database.
#[derive(Debug, Clone)]
pub struct ValidCustomer {
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
}

pub fn validate_customer(f: &CustomerFields, v: &mut Violations) -> Option<ValidCustomer> {
    let field = |n: &str| format!("customer.{n}");
    let before = v.items().len();
    let Some(kind) = f.kind else {
        v.add(field("kind"), "is required (COMPANY or PRIVATE)");
        return None;
    };
    let (mut company_name, mut first_name, mut last_name) = (String::new(), String::new(), String::new());
    match kind {
        CustomerKind::Company => {
            company_name = v
                .check(field("company_name"), DisplayName::parse(&f.company_name))
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            for (n, val) in [("first_name", &f.first_name), ("last_name", &f.last_name)] {
                if !val.trim().is_empty() {
                    v.add(field(n), "is for private customers; a company's people are its contacts");
                }
            }
        }
        CustomerKind::Private => {
            first_name = v
                .check(field("first_name"), PersonName::parse(&f.first_name))
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            last_name = v
                .check(field("last_name"), PersonName::parse(&f.last_name))
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            if !f.company_name.trim().is_empty() {
                v.add(field("company_name"), "is for company customers");
            }
        }
    }
    let email = v.check(field("email"), EmailAddress::parse_optional(&f.email)).flatten();
    let phone = v.check(field("phone"), Phone::parse_optional(&f.phone)).flatten();
    let a = &f.address;
    let address = Address {
        line1: v.check(field("address.line1"), optional_text(&a.line1, 200)).unwrap_or_default(),
        line2: v.check(field("address.line2"), optional_text(&a.line2, 200)).unwrap_or_default(),
        postal_code: v.check(field("address.postal_code"), optional_text(&a.postal_code, 20)).unwrap_or_default(),
        city: v.check(field("address.city"), optional_text(&a.city, 100)).unwrap_or_default(),
        country_code: v.check(field("address.country_code"), country_code(&a.country_code)).unwrap_or_default(),
    };
    let area_id = v.check(field("area_id"), Id::parse_optional(&f.area_id)).flatten();
    let external_ref = v.check(field("external_ref"), external_ref(&f.external_ref)).flatten();
    let mut modules = vec![];
    for m in &f.modules {
        if !modules.contains(m) {
            modules.push(*m);
        }
    }
    if v.items().len() > before {
        return None;
    }
    Some(ValidCustomer {
        kind,
        display_name: Customer::display_name_of(kind, &company_name, &first_name, &last_name),
        company_name,
        first_name,
        last_name,
        email: email.map(|e| e.to_string()).unwrap_or_default(),
        phone: phone.map(|p| p.as_str().to_string()).unwrap_or_default(),
        address,
        area_id,
        external_ref,
        hub_access: f.hub_access,
        modules,
        locale: f.locale,
        tone: f.tone,
    })
}

#[derive(Debug, Default, Clone)]
pub struct ContactFields {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub hub_access: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct ValidContact {
    pub first_name: String,
    pub last_name: String,
    pub email: EmailAddress,
    pub phone: String,
    pub hub_access: Option<bool>,
}

pub fn validate_contact(f: &ContactFields, prefix: &str, v: &mut Violations) -> Option<ValidContact> {
    let field = |n: &str| format!("{prefix}.{n}");
    let first = v.check(field("first_name"), PersonName::parse(&f.first_name));
    let last = v.check(field("last_name"), PersonName::parse(&f.last_name));
    let email = v.check(field("email"), EmailAddress::parse(&f.email));
    let phone = v.check(field("phone"), Phone::parse_optional(&f.phone));
    Some(ValidContact {
        first_name: first?.as_str().to_string(),
        last_name: last?.as_str().to_string(),
        email: email?,
        phone: phone?.map(|p| p.as_str().to_string()).unwrap_or_default(),
        hub_access: f.hub_access,
    })
}

/// Parses the contacts of a create or import request, refusing duplicates.
pub fn validate_contacts(
    kind: Option<CustomerKind>,
    contacts: &[ContactFields],
    v: &mut Violations,
) -> Vec<ValidContact> {
    if kind == Some(CustomerKind::Private) && !contacts.is_empty() {
        v.add("contacts", "a private customer is its own contact and takes no further contacts");
        return vec![];
    }
    let mut out: Vec<ValidContact> = vec![];
    for (i, c) in contacts.iter().enumerate() {
        let prefix = format!("contacts[{i}]");
        if let Some(valid) = validate_contact(c, &prefix, v) {
            if out.iter().any(|o| o.email == valid.email) {
                v.add(format!("{prefix}.email"), "appears twice in this request");
            } else {
                out.push(valid);
            }
        }
    }
    out
}
