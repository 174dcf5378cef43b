use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

async fn create_get_update_delete_company(app: TestApp) {
    let area = app.area("Nord").await;
    let mut req = company("Bager Hansen ApS", &[("Anna", "Jensen", "anna@bager.example.dk")]);
    {
        let c = req.customer.as_mut().unwrap();
        c.email = "Info@Bager.example.dk".into();
        c.phone = "+45 12 34 56 78".into();
        c.area_id = area.clone();
        c.external_ref = "ERP-1".into();
        c.address = Some(pb::Address {
            line1: "Bagervej 1".into(),
            postal_code: "8000".into(),
            city: "Aarhus".into(),
            country_code: "dk".into(),
            ..Default::default()
        });
    }
    let created = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    assert_eq!(created.display_name, "Bager Hansen ApS");
    assert_eq!(created.email, "info@bager.example.dk");
    assert_eq!(created.phone, "+4512345678");
    assert_eq!(created.address.as_ref().unwrap().country_code, "DK");
    assert_eq!(created.contact_count, 1);
    assert!(created.contacts[0].hub_access, "contacts default to the customer's HUB access");
    assert!(created.contacts[0].subscribed);
    assert!(!created.contacts[0].activated);
    assert_eq!(created.contacts[0].welcome_mail.as_ref().unwrap().send_count, 0);

    let got = app
        .admin_customers()
        .get_customer(pb::GetCustomerRequest { customer_id: created.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(got.id, created.id);
    assert_eq!(got.contacts.len(), 1);

    // Update only the name; the rest stays.
    let updated = app
        .admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id.clone(),
                company_name: "Bager Hansen & Søn ApS".into(),
                etag: got.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["company_name".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(updated.display_name, "Bager Hansen & Søn ApS");
    assert_eq!(updated.email, "info@bager.example.dk");
    assert_eq!(updated.area_id, area);
    assert_ne!(updated.etag, got.etag);

    // A stale etag loses.
    let stale = app
        .admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id.clone(),
                company_name: "Stale".into(),
                etag: got.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["company_name".into()] }),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // The kind never changes; unknown paths are refused.
    let err = app
        .admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id.clone(),
                kind: pb::CustomerKind::Private as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["kind".into(), "shoe_size".into()] }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["update_mask"]);
    assert_eq!(violations(&err).len(), 2);

    app.admin_customers().delete_customer(pb::DeleteCustomerRequest { customer_id: created.id.clone() }).await.unwrap();
    let err = app
        .admin_customers()
        .get_customer(pb::GetCustomerRequest { customer_id: created.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .admin_customers()
        .get_contact(pb::GetContactRequest { contact_id: created.contacts[0].id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err =
        app.admin_customers().delete_customer(pb::DeleteCustomerRequest { customer_id: created.id }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// A private customer is its own contact, kept in step with the customer.
async fn private_customer_is_its_own_contact(app: TestApp) {
    let req = private_customer("Karen", "Blixen", "karen@example.dk", true);
    let c = app.admin_customers().create_customer(req.clone()).await.unwrap().into_inner().customer.unwrap();
    assert_eq!(c.display_name, "Karen Blixen");
    assert_eq!(c.contacts.len(), 1);
    assert!(c.contacts[0].primary);
    assert_eq!(c.contacts[0].email, "karen@example.dk");

    // Extra contacts are refused, at creation and later.
    let mut with_extra = req.clone();
    with_extra.contacts.push(pb::ContactInput {
        first_name: "X".into(),
        last_name: "Y".into(),
        email: "x@example.dk".into(),
        ..Default::default()
    });
    assert_fields(&app.admin_customers().create_customer(with_extra).await.unwrap_err(), &["contacts"]);
    let err = app
        .admin_customers()
        .create_contact(pb::CreateContactRequest {
            customer_id: c.id.clone(),
            contact: Some(pb::ContactInput {
                first_name: "X".into(),
                last_name: "Y".into(),
                email: "x@example.dk".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["customer_id"]);

    // Renaming the customer renames the contact.
    let updated = app
        .admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: c.id.clone(),
                last_name: "Dinesen".into(),
                email: "karen.d@example.dk".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["last_name".into(), "email".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(updated.display_name, "Karen Dinesen");
    assert_eq!(updated.contacts[0].last_name, "Dinesen");
    assert_eq!(updated.contacts[0].email, "karen.d@example.dk");

    // Its HUB access is the customer's: changed on the contact, UpdateCustomer
    // would silently copy it back.
    let err = app
        .admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: c.contacts[0].id.clone(), hub_access: false, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["hub_access".into()] }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["contact.hub_access"]);

    // The implicit contact goes with the customer only.
    let err = app
        .admin_customers()
        .delete_contact(pb::DeleteContactRequest { contact_id: c.contacts[0].id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

/// Every bad field is named at once.
async fn bad_input_names_every_field(app: TestApp) {
    let req = pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: "  ".into(),
            first_name: "Not for companies".into(),
            email: "not-an-email".into(),
            phone: "12ab".into(),
            area_id: uuid::Uuid::now_v7().to_string(),
            address: Some(pb::Address { country_code: "Denmark".into(), ..Default::default() }),
            locale: 42,
            ..Default::default()
        }),
        contacts: vec![
            pb::ContactInput {
                first_name: "".into(),
                last_name: "Jensen".into(),
                email: "anna@example.dk".into(),
                ..Default::default()
            },
            pb::ContactInput {
                first_name: "Bo".into(),
                last_name: "".into(),
                email: "bo@".into(),
                ..Default::default()
            },
            pb::ContactInput {
                first_name: "Anna".into(),
                last_name: "Jensen".into(),
                email: "ANNA@example.dk".into(),
                ..Default::default()
            },
        ],
        send_welcome_mail: false,
        request_id: String::new(),
    };
    let err = app.admin_customers().create_customer(req).await.unwrap_err();
    // Enum mistakes are found before anything else is looked at.
    assert_fields(&err, &["customer.locale"]);

    let req = pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: "  ".into(),
            first_name: "Not for companies".into(),
            email: "not-an-email".into(),
            phone: "12ab".into(),
            area_id: uuid::Uuid::now_v7().to_string(),
            address: Some(pb::Address { country_code: "Denmark".into(), ..Default::default() }),
            ..Default::default()
        }),
        contacts: vec![
            pb::ContactInput {
                first_name: "".into(),
                last_name: "Jensen".into(),
                email: "anna@example.dk".into(),
                ..Default::default()
            },
            pb::ContactInput {
                first_name: "Bo".into(),
                last_name: "".into(),
                email: "bo@".into(),
                ..Default::default()
            },
            pb::ContactInput {
                first_name: "Anna".into(),
                last_name: "Jensen".into(),
                email: "anna@example.dk".into(),
                ..Default::default()
            },
            pb::ContactInput {
                first_name: "Cy".into(),
                last_name: "Co".into(),
                email: "ANNA@example.dk".into(),
                ..Default::default()
            },
        ],
        send_welcome_mail: false,
        request_id: "x".repeat(200),
    };
    let err = app.admin_customers().create_customer(req).await.unwrap_err();
    assert_fields(
        &err,
        &[
            "customer.company_name",
            "customer.first_name",
            "customer.email",
            "customer.phone",
            "customer.address.country_code",
            "contacts[0].first_name",
            "contacts[1].last_name",
            "contacts[1].email",
            "contacts[3].email",
            "request_id",
        ],
    );

    // With everything else right, an unknown area is named too.
    let mut req = company("Ok Firma", &[]);
    req.customer.as_mut().unwrap().area_id = uuid::Uuid::now_v7().to_string();
    assert_fields(&app.admin_customers().create_customer(req).await.unwrap_err(), &["customer.area_id"]);
    let mut req = company("Ok Firma", &[]);
    req.customer.as_mut().unwrap().kind = 0;
    assert_fields(&app.admin_customers().create_customer(req).await.unwrap_err(), &["customer.kind"]);
    let req = pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Private as i32,
            company_name: "Firma".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_fields(
        &app.admin_customers().create_customer(req).await.unwrap_err(),
        &["customer.first_name", "customer.last_name", "customer.company_name"],
    );
    assert_fields(
        &app.admin_customers().create_customer(pb::CreateCustomerRequest::default()).await.unwrap_err(),
        &["customer"],
    );

    // Ids are checked before they are looked up.
    assert_fields(
        &app.admin_customers().get_customer(pb::GetCustomerRequest { customer_id: "42".into() }).await.unwrap_err(),
        &["customer_id"],
    );
    assert_fields(
        &app.admin_customers().get_customer(pb::GetCustomerRequest { customer_id: String::new() }).await.unwrap_err(),
        &["customer_id"],
    );
    let missing = app
        .admin_customers()
        .get_customer(pb::GetCustomerRequest { customer_id: uuid::Uuid::now_v7().to_string() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_fields(
        &app.admin_customers()
            .list_customers(pb::ListCustomersRequest { page_size: -1, ..Default::default() })
            .await
            .unwrap_err(),
        &["page_size"],
    );
    assert_fields(
        &app.admin_customers()
            .list_customers(pb::ListCustomersRequest { page_token: "garbage".into(), ..Default::default() })
            .await
            .unwrap_err(),
        &["page_token"],
    );
    let list = app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner();
    assert!(list.customers.is_empty(), "nothing was half-written");
}

/// A retried create with the same request_id returns the first result.
async fn create_is_idempotent_by_request_id(app: TestApp) {
    let mut req = company("Gentaget ApS", &[("Gert", "Gentag", "gert@gentaget.example.dk")]);
    req.request_id = "import-42".into();
    req.send_welcome_mail = true;
    let first = app.admin_customers().create_customer(req.clone()).await.unwrap().into_inner().customer.unwrap();
    let second = app.admin_customers().create_customer(req.clone()).await.unwrap().into_inner().customer.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(app.deliver_all().await, 1, "one welcome mail, not two");
    let list = app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner();
    assert_eq!(list.customers.len(), 1);
    // The same key with another request is a mistake, not a retry: refused,
    // and nothing is created.
    let mut other = company("Anden ApS", &[]);
    other.request_id = "import-42".into();
    let err = app.admin_customers().create_customer(other).await.unwrap_err();
    assert_fields(&err, &["request_id"]);
    // Another key is another create.
    req.request_id = "import-43".into();
    let third = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    assert_ne!(third.id, first.id);
    let list = app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner();
    assert_eq!(list.customers.len(), 2);
}

/// Listing: by name, with search, area and kind filters, in pages.
async fn list_searches_filters_and_pages(app: TestApp) {
    let nord = app.area("Nord").await;
    for (i, name) in ["Cafe Ciao", "Anders Auto", "Bager Bo", "Dyrlæge Dorte", "Elektriker Erik"].iter().enumerate() {
        let mut req = company(name, &[]);
        if i % 2 == 0 {
            req.customer.as_mut().unwrap().area_id = nord.clone();
        }
        req.customer.as_mut().unwrap().external_ref = format!("REF-{i}");
        app.admin_customers().create_customer(req).await.unwrap();
    }
    let mut names = vec![];
    let mut token = String::new();
    loop {
        let page = app
            .admin_customers()
            .list_customers(pb::ListCustomersRequest { page_size: 2, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert!(page.customers.len() <= 2);
        names.extend(page.customers.into_iter().map(|c| c.display_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["Anders Auto", "Bager Bo", "Cafe Ciao", "Dyrlæge Dorte", "Elektriker Erik"]);

    let search = |q: &str| pb::ListCustomersRequest { query: q.into(), ..Default::default() };
    let found = app.admin_customers().list_customers(search("BAGER")).await.unwrap().into_inner().customers;
    assert_eq!(found.iter().map(|c| c.display_name.as_str()).collect::<Vec<_>>(), ["Bager Bo"]);
    let found = app.admin_customers().list_customers(search("REF-3")).await.unwrap().into_inner().customers;
    assert_eq!(found.iter().map(|c| c.display_name.as_str()).collect::<Vec<_>>(), ["Dyrlæge Dorte"]);
    let found = app.admin_customers().list_customers(search("%")).await.unwrap().into_inner().customers;
    assert!(found.is_empty(), "LIKE wildcards are matched literally");
    let in_nord = app
        .admin_customers()
        .list_customers(pb::ListCustomersRequest { area_id: nord, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert_eq!(
        in_nord.iter().map(|c| c.display_name.as_str()).collect::<Vec<_>>(),
        ["Bager Bo", "Cafe Ciao", "Elektriker Erik"]
    );
    let private = app
        .admin_customers()
        .list_customers(pb::ListCustomersRequest { kind: pb::CustomerKind::Private as i32, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert!(private.is_empty());
}

/// Search finds what was typed: `%` and `_` as themselves, references in
/// any case, and a phone number with spaces as people write it.
async fn search_finds_what_was_typed(app: TestApp) {
    for (name, email, phone, reference) in [
        ("100% Rent ApS", "anna_b@rent.example.dk", "+45 12 34 56 78", "ERP-1"),
        ("Hundrede Rent ApS", "annaxb@rent.example.dk", "+45 87 65 43 21", "ERP-2"),
    ] {
        let mut req = company(name, &[]);
        let c = req.customer.as_mut().unwrap();
        (c.email, c.phone, c.external_ref) = (email.into(), phone.into(), reference.into());
        app.admin_customers().create_customer(req).await.unwrap();
    }
    for query in ["100%", "anna_b", "erp-1", "12 34 56 78", "+45 12 34"] {
        let req = pb::ListCustomersRequest { query: query.into(), ..Default::default() };
        let found = app.admin_customers().list_customers(req).await.unwrap().into_inner().customers;
        let names: Vec<_> = found.iter().map(|c| c.display_name.as_str()).collect();
        assert_eq!(names, ["100% Rent ApS"], "searching {query:?}");
    }
}

/// One person is one contact per customer: a second contact with the same
/// e-mail (added, or changed to it) is refused; another customer may have it.
async fn one_email_is_one_contact_per_customer(app: TestApp) {
    let req = company("Dobbelt ApS", &[("Dan", "Dobbelt", "dan@dobbelt.example.dk")]);
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let contact = |customer_id: &str, email: &str| pb::CreateContactRequest {
        customer_id: customer_id.into(),
        contact: Some(pb::ContactInput {
            first_name: "Dan".into(),
            last_name: "Igen".into(),
            email: email.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = app.admin_customers().create_contact(contact(&c.id, "DAN@dobbelt.example.dk")).await.unwrap_err();
    assert_fields(&err, &["contact.email"]);
    let other = app.admin_customers().create_contact(contact(&c.id, "dina@dobbelt.example.dk")).await.unwrap();
    let other = other.into_inner().contact.unwrap();
    let to_dan = pb::Contact { id: other.id, email: "dan@dobbelt.example.dk".into(), ..Default::default() };
    let req = pb::UpdateContactRequest { contact: Some(to_dan), update_mask: mask(&["email"]) };
    assert_fields(&app.admin_customers().update_contact(req).await.unwrap_err(), &["contact.email"]);

    let elsewhere = app.admin_customers().create_customer(company("Andet ApS", &[])).await.unwrap().into_inner();
    let elsewhere = elsewhere.customer.unwrap().id;
    app.admin_customers()
        .create_contact(contact(&elsewhere, "dan@dobbelt.example.dk"))
        .await
        .expect("another customer");
}

/// Forty CreateContact calls for one new e-mail at once, each in its own
/// request task: one contact results, the others are refused naming the field.
async fn concurrent_adds_of_one_email_make_one_contact(app: TestApp) {
    let c = app.admin_customers().create_customer(company("Samtidig ApS", &[])).await.unwrap().into_inner();
    let customer_id = c.customer.unwrap().id;
    let mut calls = vec![];
    for i in 0..40 {
        let mut client = app.admin_customers();
        let req = pb::CreateContactRequest {
            customer_id: customer_id.clone(),
            contact: Some(pb::ContactInput {
                first_name: format!("Sam {i}"),
                last_name: "Tidig".into(),
                email: "sam@samtidig.example.dk".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        calls.push(tokio::spawn(async move { client.create_contact(req).await }));
    }
    let mut created = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert_fields(&e, &["contact.email"]),
        }
    }
    assert_eq!(created, 1);
    let stored: i64 = app.scalar("SELECT COUNT(*) FROM contacts WHERE email = 'sam@samtidig.example.dk'").await;
    assert_eq!(stored, 1);
}

/// A deleted contact's HUB messages go with it, and a deleted customer's
/// with the customer (the inbox has no foreign key to either).
async fn deleting_takes_the_inbox_along(app: TestApp) {
    use customerhub::domain::notification::NotificationKind;
    let c = app
        .welcomed_company("Ryd ApS", &[("Rita", "Ryd", "rita@ryd.example.dk"), ("Rolf", "Ryd", "rolf@ryd.example.dk")])
        .await;
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    let of = |id: &str| format!("SELECT COUNT(*) FROM inbox_messages WHERE recipient_id = '{id}'");
    let (rita, rolf) = (c.contacts[0].id.clone(), c.contacts[1].id.clone());
    assert_eq!((app.scalar(&of(&rita)).await, app.scalar(&of(&rolf)).await), (1, 1));
    app.admin_customers().delete_contact(pb::DeleteContactRequest { contact_id: rita.clone() }).await.unwrap();
    assert_eq!((app.scalar(&of(&rita)).await, app.scalar(&of(&rolf)).await), (0, 1));
    app.admin_customers().delete_customer(pb::DeleteCustomerRequest { customer_id: c.id.clone() }).await.unwrap();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM inbox_messages").await, 0);
}

/// Contacts: add, list, edit, and the external reference stays unique.
async fn contacts_and_external_refs(app: TestApp) {
    let mut req = company("Kontor K", &[("Kim", "Kontor", "kim@kontor.example.dk")]);
    req.customer.as_mut().unwrap().external_ref = "K-1".into();
    let c = app.admin_customers().create_customer(req.clone()).await.unwrap().into_inner().customer.unwrap();
    let dup = app.admin_customers().create_customer(req).await.unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);

    let added = app
        .admin_customers()
        .create_contact(pb::CreateContactRequest {
            customer_id: c.id.clone(),
            contact: Some(pb::ContactInput {
                first_name: "Kaj".into(),
                last_name: "Kontor".into(),
                email: "kaj@kontor.example.dk".into(),
                phone: "22 33 44 55".into(),
                hub_access: Some(false),
            }),
            send_welcome_mail: false,
            request_id: "c-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert!(!added.hub_access);
    assert_eq!(added.phone, "22334455");
    let err = app
        .admin_customers()
        .create_contact(pb::CreateContactRequest {
            customer_id: c.id.clone(),
            contact: Some(pb::ContactInput {
                first_name: "".into(),
                last_name: "".into(),
                email: "".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["contact.first_name", "contact.last_name", "contact.email"]);

    let listed = app
        .admin_customers()
        .list_contacts(pb::ListContactsRequest { customer_id: c.id.clone(), page_size: 1, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.contacts.len(), 1);
    assert!(!listed.next_page_token.is_empty());

    let edited = app
        .admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact {
                id: added.id.clone(),
                email: "Kaj.K@kontor.example.dk".into(),
                hub_access: true,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["email".into(), "hub_access".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(edited.email, "kaj.k@kontor.example.dk");
    assert!(edited.hub_access);
    assert_eq!(edited.first_name, "Kaj");
    let err = app
        .admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: added.id.clone(), email: "broken".into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["contact.email"]);
}

/// SMS consent is recorded with when, how and by whom.
async fn sms_consent_is_recorded(app: TestApp) {
    let c =
        app.admin_customers().create_customer(company("Salon S", &[])).await.unwrap().into_inner().customer.unwrap();
    assert!(!c.sms_consent.as_ref().unwrap().granted);
    let err = app
        .admin_customers()
        .set_sms_consent(pb::SetSmsConsentRequest {
            customer_id: c.id.clone(),
            granted: true,
            method: 0,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["method"]);
    let c = app
        .admin_customers()
        .set_sms_consent(pb::SetSmsConsentRequest {
            customer_id: c.id.clone(),
            granted: true,
            method: pb::SmsConsentMethod::InPerson as i32,
            note: "asked at the counter".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let consent = c.sms_consent.unwrap();
    assert!(consent.granted);
    assert_eq!(consent.method, pb::SmsConsentMethod::InPerson as i32);
    assert_eq!(consent.recorded_by_staff_user_id, app.admin_id);
    assert!(consent.record_time.is_some());
}

both_databases!(
    create_get_update_delete_company,
    private_customer_is_its_own_contact,
    bad_input_names_every_field,
    create_is_idempotent_by_request_id,
    list_searches_filters_and_pages,
    search_finds_what_was_typed,
    one_email_is_one_contact_per_customer,
    concurrent_adds_of_one_email_make_one_contact,
    deleting_takes_the_inbox_along,
    contacts_and_external_refs,
    sms_consent_is_recorded,
);
