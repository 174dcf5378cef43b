//! GetCustomer answers from `store::customer_cache`: every way a customer
//! or its contacts change must show in the very next GetCustomer, though
//! the customer was read (and kept) just before.
use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

fn contact_named<'a>(c: &'a pb::Customer, email: &str) -> &'a pb::Contact {
    c.contacts.iter().find(|k| k.email == email).unwrap_or_else(|| panic!("no contact {email} in {c:?}"))
}

/// The staff's changes to the customer and its contacts.
async fn staff_changes_show_in_the_next_get(app: TestApp) {
    let nord = app.area("Nord").await;
    let mut req = company("Cache ApS", &[("Anna", "And", "anna@cache.example.dk")]);
    req.customer.as_mut().unwrap().area_id = nord.clone();
    let id = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap().id;
    let mut admin = app.admin_customers();

    let before = app.customer(&id).await;
    admin
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: id.clone(),
                company_name: "Cache & Co ApS".into(),
                ..Default::default()
            }),
            update_mask: mask(&["company_name"]),
        })
        .await
        .unwrap();
    let after = app.customer(&id).await;
    assert_eq!(after.company_name, "Cache & Co ApS");
    assert_ne!(after.etag, before.etag);

    admin
        .set_sms_consent(pb::SetSmsConsentRequest {
            customer_id: id.clone(),
            granted: true,
            method: pb::SmsConsentMethod::InPerson as i32,
            note: String::new(),
        })
        .await
        .unwrap();
    assert!(app.customer(&id).await.sms_consent.unwrap().granted, "SetSmsConsent");

    let bo = app.add_contact(&id, "Bo", "Bager", "bo@cache.example.dk").await;
    let got = app.customer(&id).await;
    assert_eq!((got.contacts.len(), got.contact_count), (2, 2), "CreateContact");

    admin
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: bo.id.clone(), first_name: "Bodil".into(), ..Default::default() }),
            update_mask: mask(&["first_name"]),
        })
        .await
        .unwrap();
    assert_eq!(contact_named(&app.customer(&id).await, "bo@cache.example.dk").first_name, "Bodil", "UpdateContact");

    admin.send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: bo.id.clone() }).await.unwrap();
    let sent = contact_named(&app.customer(&id).await, "bo@cache.example.dk").welcome_mail.unwrap();
    assert_eq!(sent.send_count, 1, "SendWelcomeMail");

    admin.delete_contact(pb::DeleteContactRequest { contact_id: bo.id.clone() }).await.unwrap();
    let got = app.customer(&id).await;
    assert_eq!((got.contacts.len(), got.contact_count), (1, 1), "DeleteContact");

    let anna = got.contacts[0].id.clone();
    admin.erase_personal_data(pb::ErasePersonalDataRequest { contact_id: anna }).await.unwrap();
    assert!(app.customer(&id).await.contacts.is_empty(), "ErasePersonalData");

    // The area's deletion moves its customers out of it, in SQL.
    assert_eq!(app.customer(&id).await.area_id, nord);
    app.admin_workspace().delete_area(pb::DeleteAreaRequest { area_id: nord }).await.unwrap();
    assert_eq!(app.customer(&id).await.area_id, "", "DeleteArea");

    admin.delete_customer(pb::DeleteCustomerRequest { customer_id: id.clone() }).await.unwrap();
    let err = admin.get_customer(pb::GetCustomerRequest { customer_id: id }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "DeleteCustomer");
}

/// What the contacts do themselves in the HUB, and an import.
async fn hub_and_import_changes_show_in_the_next_get(app: TestApp) {
    let email = "hanne@hub.example.dk";
    let c = app.welcomed_company("Hub ApS", &[("Hanne", "Hub", email)]).await;
    let contact = contact_named(&app.customer(&c.id).await, email).clone();
    assert!(!contact.activated);

    app.admin_customers()
        .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: contact.id.clone() })
        .await
        .unwrap();
    app.deliver_all().await;
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert!(!contact_named(&app.customer(&c.id).await, email).activated);
    let session = app.activate(&mail).await;
    assert!(contact_named(&app.customer(&c.id).await, email).activated, "ActivateAccount");

    app.hub(&session)
        .set_email_subscription(pb::SetEmailSubscriptionRequest { subscribed: false, shown_text: "Nej tak".into() })
        .await
        .unwrap();
    assert!(!contact_named(&app.customer(&c.id).await, email).subscribed, "SetEmailSubscription");

    let activated_at = contact_named(&app.customer(&c.id).await, email).last_login_time;
    app.clock.advance(chrono::Duration::seconds(1)); // a later login time, well within the cache's 10 s
    app.anonymous_hub()
        .login(pb::LoginRequest {
            workspace_id: app.workspace_id.clone(),
            email: email.into(),
            password: "a-good-long-password".into(),
            customer_id: String::new(),
        })
        .await
        .unwrap();
    let logged_in_at = contact_named(&app.customer(&c.id).await, email).last_login_time;
    assert!(logged_in_at.is_some() && logged_in_at != activated_at, "Login: {activated_at:?} → {logged_in_at:?}");

    // An import row matched by its external reference updates the customer.
    app.execute(&format!("UPDATE customers SET external_ref = 'ERP-7' WHERE id = '{}'", c.id)).await;
    app.clock.advance(chrono::Duration::seconds(10)); // past the cache's bound on changes made by hand
    assert_eq!(app.customer(&c.id).await.external_ref, "ERP-7");
    let row = pb::ImportCustomersRequest {
        external_ref: "ERP-7".into(),
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: "Hub Import ApS".into(),
            hub_access: true,
            ..Default::default()
        }),
        contacts: vec![pb::ContactInput {
            first_name: "Hanne".into(),
            last_name: "Importeret".into(),
            email: email.into(),
            ..Default::default()
        }],
        send_welcome_mail: false,
    };
    let res = app.admin_customers().import_customers(tokio_stream::iter(vec![row])).await.unwrap().into_inner();
    assert_eq!(res.updated_count, 1, "{res:?}");
    let got = app.customer(&c.id).await;
    assert_eq!(got.company_name, "Hub Import ApS", "ImportCustomers");
    assert_eq!(contact_named(&got, email).last_name, "Importeret", "ImportCustomers");
}

/// The cache is used, and bounds what it does not hear of: a change made
/// by hand in SQL shows after ten seconds, not before.
async fn a_customer_read_is_kept_for_ten_seconds_at_most(app: TestApp) {
    let id = app.admin_customers().create_customer(company("Før ApS", &[])).await.unwrap().into_inner().customer;
    let id = id.unwrap().id;
    assert_eq!(app.customer(&id).await.company_name, "Før ApS");
    app.execute(&format!("UPDATE customers SET company_name = 'Efter ApS' WHERE id = '{id}'")).await;

    assert_eq!(app.customer(&id).await.company_name, "Før ApS", "read a moment ago");
    app.clock.advance(chrono::Duration::seconds(9));
    assert_eq!(app.customer(&id).await.company_name, "Før ApS", "read 9 s ago");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(app.customer(&id).await.company_name, "Efter ApS", "read 10 s ago: read again");
}

/// The cache holds whole customers; each caller's scope still applies: a
/// supervisor of another area and another workspace find nothing.
async fn a_kept_customer_is_still_scoped(app: TestApp) {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let mut req = company("Nordkunde ApS", &[]);
    req.customer.as_mut().unwrap().area_id = nord.clone();
    let id = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap().id;
    app.customer(&id).await; // kept now

    let (_, nord_key) = app.staff_with_key("nord@cache.example.dk", pb::StaffRole::Supervisor, vec![nord]).await;
    let (_, syd_key) = app.staff_with_key("syd@cache.example.dk", pb::StaffRole::Supervisor, vec![syd]).await;
    let (_, other_key) = app.other_workspace().await;
    let ask = |key: String| {
        let id = id.clone();
        let mut client = app.customers(&key);
        async move { client.get_customer(pb::GetCustomerRequest { customer_id: id }).await }
    };
    assert_eq!(ask(nord_key).await.unwrap().into_inner().customer.unwrap().id, id);
    assert_eq!(ask(syd_key).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(ask(other_key).await.unwrap_err().code(), Code::NotFound);
}

both_databases!(
    staff_changes_show_in_the_next_get,
    hub_and_import_changes_show_in_the_next_get,
    a_customer_read_is_kept_for_ten_seconds_at_most,
    a_kept_customer_is_still_scoped
);

/// Two replicas on one PostgreSQL: b keeps the customer it read; a change
/// made through a shows on b as soon as the NOTIFY naming the customer
/// arrives, long before the ten seconds are up (b's clock does not move).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_changed_on_one_replica_shows_on_the_others() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_app_with(Backend::Postgres, Some(a.database_url.clone()), |_| {}).await;
    let id = a.admin_customers().create_customer(company("Replika ApS", &[])).await.unwrap().into_inner().customer;
    let id = id.unwrap().id;
    let on_b = || {
        let mut client = b.customers(&a.admin_key);
        let id = id.clone();
        async move {
            client
                .get_customer(pb::GetCustomerRequest { customer_id: id })
                .await
                .unwrap()
                .into_inner()
                .customer
                .unwrap()
        }
    };
    assert_eq!(on_b().await.company_name, "Replika ApS");

    a.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: id.clone(),
                company_name: "Replika To ApS".into(),
                ..Default::default()
            }),
            update_mask: mask(&["company_name"]),
        })
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while on_b().await.company_name != "Replika To ApS" {
        assert!(tokio::time::Instant::now() < deadline, "replica b still shows the old name 5 s after the change");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
