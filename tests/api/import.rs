use crate::{both_databases, support::*};
use customerhub::grpc::pb;

fn contact(first: &str, last: &str, email: &str) -> pb::ContactInput {
    pb::ContactInput { first_name: first.into(), last_name: last.into(), email: email.into(), ..Default::default() }
}

fn company_row(external_ref: &str, name: &str, contacts: Vec<pb::ContactInput>) -> pb::ImportCustomersRequest {
    pb::ImportCustomersRequest {
        external_ref: external_ref.into(),
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: name.into(),
            hub_access: true,
            modules: vec![pb::Module::PunchCards as i32],
            ..Default::default()
        }),
        contacts,
        send_welcome_mail: false,
    }
}

fn private_row(external_ref: &str, first: &str, last: &str, email: &str) -> pb::ImportCustomersRequest {
    pb::ImportCustomersRequest {
        external_ref: external_ref.into(),
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Private as i32,
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            hub_access: true,
            ..Default::default()
        }),
        contacts: vec![],
        send_welcome_mail: false,
    }
}

/// The three rows of the first import: a company with two contacts, a private customer, a broken row.
fn first_import() -> Vec<pb::ImportCustomersRequest> {
    let mut broken = company_row("", "Ødelagt ApS", vec![]);
    broken.customer.as_mut().unwrap().email = "not-an-email".into();
    vec![
        company_row(
            "ERP-100",
            "Bager Hansen ApS",
            vec![contact("Anna", "Jensen", "anna@bager.example.dk"), contact("Bo", "Berg", "bo@bager.example.dk")],
        ),
        private_row("ERP-200", "Karen", "Blixen", "karen@example.dk"),
        broken,
    ]
}

async fn import(app: &TestApp, rows: Vec<pb::ImportCustomersRequest>) -> pb::ImportCustomersResponse {
    app.admin_customers().import_customers(tokio_stream::iter(rows)).await.unwrap().into_inner()
}

async fn all_customers(app: &TestApp) -> Vec<pb::Customer> {
    app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner().customers
}

fn outcomes(r: &pb::ImportCustomersResponse) -> Vec<pb::ImportOutcome> {
    r.results.iter().map(|x| pb::ImportOutcome::try_from(x.outcome).unwrap()).collect()
}

fn error_fields(r: &pb::ImportRowResult) -> Vec<String> {
    let mut f: Vec<String> = r.field_errors.iter().map(|e| e.field.clone()).collect();
    f.sort();
    f.dedup();
    f
}

fn contact_by_email<'a>(c: &'a pb::Customer, email: &str) -> &'a pb::Contact {
    c.contacts.iter().find(|x| x.email == email).unwrap_or_else(|| panic!("no contact {email} in {:?}", c.contacts))
}

/// One result per row, in order; a bad row is refused on its own and names its fields; no mail.
async fn import_reports_each_row(app: TestApp) {
    let res = import(&app, first_import()).await;
    use pb::ImportOutcome::*;
    assert_eq!(outcomes(&res), [Created, Created, Error]);
    assert_eq!(res.results.iter().map(|r| r.row).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(res.results.iter().map(|r| r.external_ref.as_str()).collect::<Vec<_>>(), ["ERP-100", "ERP-200", ""]);
    assert_eq!((res.created_count, res.updated_count, res.error_count), (2, 0, 1));
    let bad = &res.results[2];
    assert_eq!(error_fields(bad), ["customer.email", "external_ref"]);
    assert!(bad.field_errors.iter().all(|e| !e.description.is_empty()));
    assert!(!bad.error.is_empty());
    assert!(bad.customer_id.is_empty());
    for ok in &res.results[..2] {
        assert!(!ok.customer_id.is_empty());
        assert!(ok.error.is_empty());
        assert!(ok.field_errors.is_empty());
    }

    let company = app.customer(&res.results[0].customer_id).await;
    assert_eq!(company.kind, pb::CustomerKind::Company as i32);
    assert_eq!(company.display_name, "Bager Hansen ApS");
    assert_eq!(company.external_ref, "ERP-100");
    assert!(company.hub_access);
    assert_eq!(company.modules, [pb::Module::PunchCards as i32]);
    assert_eq!(company.contacts.len(), 2);
    assert_eq!(contact_by_email(&company, "anna@bager.example.dk").last_name, "Jensen");
    assert_eq!(contact_by_email(&company, "bo@bager.example.dk").first_name, "Bo");
    assert!(company.contacts.iter().all(|c| c.hub_access && c.welcome_mail.as_ref().unwrap().send_count == 0));

    let private = app.customer(&res.results[1].customer_id).await;
    assert_eq!(private.kind, pb::CustomerKind::Private as i32);
    assert_eq!(private.display_name, "Karen Blixen");
    assert_eq!(private.external_ref, "ERP-200");
    assert_eq!(private.contacts.len(), 1);
    assert!(private.contacts[0].primary);
    assert_eq!(private.contacts[0].email, "karen@example.dk");

    let listed = all_customers(&app).await;
    assert_eq!(listed.len(), 2, "the bad row wrote nothing");
    assert!(listed.iter().all(|c| c.display_name != "Ødelagt ApS"));
    assert_eq!(app.deliver_all().await, 0, "an import without send_welcome_mail mails nobody");
    assert_eq!(app.smtp.count(), 0);

    // An empty stream is an empty result.
    let res = import(&app, vec![]).await;
    assert!(res.results.is_empty());
    assert_eq!((res.created_count, res.updated_count, res.error_count), (0, 0, 0));
}

/// Re-running an import updates by external reference instead of duplicating.
async fn reimport_updates_instead_of_duplicating(app: TestApp) {
    let first = import(&app, first_import()).await;
    let (company_id, private_id) = (first.results[0].customer_id.clone(), first.results[1].customer_id.clone());
    let before = app.customer(&company_id).await;
    let anna_id = contact_by_email(&before, "anna@bager.example.dk").id.clone();
    let bo_id = contact_by_email(&before, "bo@bager.example.dk").id.clone();

    // The very same rows again.
    let again = import(&app, first_import()).await;
    use pb::ImportOutcome::*;
    assert_eq!(outcomes(&again), [Updated, Updated, Error]);
    assert_eq!((again.created_count, again.updated_count, again.error_count), (0, 2, 1));
    assert_eq!(again.results[0].customer_id, company_id);
    assert_eq!(again.results[1].customer_id, private_id);
    assert_eq!(all_customers(&app).await.len(), 2, "no duplicates");
    let same = app.customer(&company_id).await;
    assert_eq!(same.contacts.len(), 2, "no duplicate contacts");
    assert_eq!(app.customer(&private_id).await.contacts.len(), 1);

    // Changed rows: a new company name, a contact matched by e-mail in another case and renamed,
    // a new contact, and a contact missing from the row (kept); the private customer renamed.
    let mut changed = company_row(
        "ERP-100",
        "Bager Hansen & Søn ApS",
        vec![
            contact("Anna", "Jensen-Berg", "ANNA@Bager.Example.DK"),
            contact("Cecilie", "Clausen", "cecilie@bager.example.dk"),
        ],
    );
    changed.customer.as_mut().unwrap().phone = "+45 11 22 33 44".into();
    let rows = vec![changed, private_row("ERP-200", "Karen", "Dinesen", "karen.d@example.dk")];
    let res = import(&app, rows).await;
    assert_eq!(outcomes(&res), [Updated, Updated]);
    assert_eq!((res.created_count, res.updated_count, res.error_count), (0, 2, 0));
    assert_eq!(all_customers(&app).await.len(), 2);

    let after = app.customer(&company_id).await;
    assert_eq!(after.display_name, "Bager Hansen & Søn ApS");
    assert_eq!(after.company_name, "Bager Hansen & Søn ApS");
    assert_eq!(after.phone, "+4511223344");
    assert_ne!(after.etag, before.etag);
    assert_eq!(after.contacts.len(), 3, "{:?}", after.contacts);
    let anna = contact_by_email(&after, "anna@bager.example.dk");
    assert_eq!(anna.id, anna_id, "matched by e-mail, whatever its case");
    assert_eq!(anna.last_name, "Jensen-Berg");
    let bo = contact_by_email(&after, "bo@bager.example.dk");
    assert_eq!(bo.id, bo_id, "contacts not in the row are kept");
    assert_eq!(bo.last_name, "Berg");
    let cecilie = contact_by_email(&after, "cecilie@bager.example.dk");
    assert!(cecilie.hub_access, "a new contact defaults to the customer's HUB access");
    assert_eq!(cecilie.first_name, "Cecilie");

    let private = app.customer(&private_id).await;
    assert_eq!(private.display_name, "Karen Dinesen");
    assert_eq!(private.email, "karen.d@example.dk");
    assert_eq!(private.contacts.len(), 1);
    assert_eq!(private.contacts[0].last_name, "Dinesen", "the private customer's own contact follows");
    assert_eq!(private.contacts[0].email, "karen.d@example.dk");
    assert_eq!(app.deliver_all().await, 0);

    // A reference seen twice in one stream creates once, then updates.
    let res = import(
        &app,
        vec![company_row("ERP-300", "Cafe Ciao", vec![]), company_row("ERP-300", "Cafe Ciao Ciao", vec![])],
    )
    .await;
    assert_eq!(outcomes(&res), [Created, Updated]);
    assert_eq!(res.results[0].customer_id, res.results[1].customer_id);
    assert_eq!(app.customer(&res.results[0].customer_id).await.display_name, "Cafe Ciao Ciao");
    assert_eq!(all_customers(&app).await.len(), 3);
}

/// Rows that cannot apply are refused one by one, and the rest of the stream goes on.
async fn rows_that_cannot_apply_are_errors(app: TestApp) {
    let nord = app.area("Nord").await;
    let mut in_nord = company_row("ERP-1", "Firma Et ApS", vec![contact("Eva", "Et", "eva@et.example.dk")]);
    in_nord.customer.as_mut().unwrap().area_id = nord.clone();
    let first = import(&app, vec![in_nord]).await;
    let id = first.results[0].customer_id.clone();
    let before = app.customer(&id).await;
    assert_eq!(before.area_id, nord);

    // The same reference as a private customer: the kind cannot change.
    let kind_change = private_row("ERP-1", "Eva", "Et", "eva@et.example.dk");
    // An unknown area, on a new and on an existing customer.
    let mut unknown_area_new = company_row("ERP-2", "Firma To ApS", vec![]);
    unknown_area_new.customer.as_mut().unwrap().area_id = uuid::Uuid::now_v7().to_string();
    let mut unknown_area_existing = company_row("ERP-1", "Firma Et Omdøbt ApS", vec![]);
    unknown_area_existing.customer.as_mut().unwrap().area_id = uuid::Uuid::now_v7().to_string();
    // No customer at all, and a company with private names and a bad contact.
    let no_customer = pb::ImportCustomersRequest { external_ref: "ERP-4".into(), ..Default::default() };
    let mut mixed = company_row("ERP-5", "Firma Fem", vec![contact("", "Fem", "fem@")]);
    mixed.customer.as_mut().unwrap().first_name = "Fie".into();
    let good = company_row("ERP-3", "Firma Tre ApS", vec![]);

    let res = import(&app, vec![kind_change, unknown_area_new, unknown_area_existing, no_customer, mixed, good]).await;
    use pb::ImportOutcome::*;
    assert_eq!(outcomes(&res), [Error, Error, Error, Error, Error, Created]);
    assert_eq!((res.created_count, res.updated_count, res.error_count), (1, 0, 5));
    assert_eq!(error_fields(&res.results[0]), ["customer.kind"]);
    assert_eq!(error_fields(&res.results[1]), ["customer.area_id"]);
    assert_eq!(error_fields(&res.results[2]), ["customer.area_id"]);
    assert_eq!(error_fields(&res.results[3]), ["customer.kind"]);
    assert_eq!(error_fields(&res.results[4]), ["contacts[0].email", "contacts[0].first_name", "customer.first_name"]);
    assert!(res.results[..5].iter().all(|r| !r.error.is_empty() && r.customer_id.is_empty()));

    // Nothing of the refused rows was written.
    let after = app.customer(&id).await;
    assert_eq!(after.kind, pb::CustomerKind::Company as i32);
    assert_eq!(after.display_name, "Firma Et ApS");
    assert_eq!(after.area_id, nord);
    assert_eq!(after.etag, before.etag);
    let names: Vec<String> = all_customers(&app).await.into_iter().map(|c| c.display_name).collect();
    assert_eq!(names, ["Firma Et ApS", "Firma Tre ApS"]);
}

/// send_welcome_mail mails each contact with HUB access that never got a welcome, once.
async fn import_sends_welcome_mail_once(app: TestApp) {
    // First without mail.
    let res = import(
        &app,
        vec![company_row(
            "ERP-1",
            "Bager Hansen ApS",
            vec![contact("Anna", "Jensen", "anna@bager.example.dk"), contact("Bo", "Berg", "bo@bager.example.dk")],
        )],
    )
    .await;
    let company_id = res.results[0].customer_id.clone();
    assert_eq!(app.deliver_all().await, 0);

    // Then with mail: the existing contacts get theirs, a new contact without HUB access does not,
    // a new private customer gets one, a customer without HUB access does not.
    let mut rows = vec![
        company_row(
            "ERP-1",
            "Bager Hansen ApS",
            vec![
                contact("Anna", "Jensen", "anna@bager.example.dk"),
                contact("Bo", "Berg", "bo@bager.example.dk"),
                pb::ContactInput { hub_access: Some(false), ..contact("Dina", "Dahl", "dina@bager.example.dk") },
            ],
        ),
        private_row("ERP-2", "Karen", "Blixen", "karen@example.dk"),
        company_row("ERP-3", "Lukket ApS", vec![contact("Lars", "Luk", "lars@lukket.example.dk")]),
    ];
    rows[2].customer.as_mut().unwrap().hub_access = false;
    for r in &mut rows {
        r.send_welcome_mail = true;
    }
    let res = import(&app, rows.clone()).await;
    use pb::ImportOutcome::*;
    assert_eq!(outcomes(&res), [Updated, Created, Created], "{res:?}");
    assert_eq!(app.deliver_all().await, 3);
    let mails = app.smtp.wait_for(3).await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    for to in ["anna@bager.example.dk", "bo@bager.example.dk", "karen@example.dk"] {
        let got = app.smtp.mails_to(to);
        assert_eq!(got.len(), 1, "one welcome to {to}: {mails:?}");
        assert!(got[0].text_body().contains("activate?token="), "{}", got[0].text_body());
    }
    assert!(app.smtp.mails_to("dina@bager.example.dk").is_empty());
    assert!(app.smtp.mails_to("lars@lukket.example.dk").is_empty());
    let company = app.customer(&company_id).await;
    for email in ["anna@bager.example.dk", "bo@bager.example.dk"] {
        assert_eq!(contact_by_email(&company, email).welcome_mail.as_ref().unwrap().send_count, 1);
    }
    assert_eq!(contact_by_email(&company, "dina@bager.example.dk").welcome_mail.as_ref().unwrap().send_count, 0);
    assert!(!contact_by_email(&company, "dina@bager.example.dk").hub_access);

    // The same import again mails nobody.
    let res = import(&app, rows.clone()).await;
    assert_eq!(outcomes(&res), [Updated, Updated, Updated]);
    assert_eq!(app.deliver_all().await, 0, "nobody gets a second welcome");
    assert_eq!(app.smtp.count(), 3);

    // A contact added later gets exactly its own.
    rows[0].contacts.push(contact("Eva", "Ny", "eva@bager.example.dk"));
    let res = import(&app, rows).await;
    assert_eq!(outcomes(&res), [Updated, Updated, Updated]);
    assert_eq!(app.deliver_all().await, 1);
    app.smtp.wait_for(4).await;
    assert_eq!(app.smtp.mails_to("eva@bager.example.dk").len(), 1);
    assert_eq!(app.smtp.count(), 4);
    for to in ["anna@bager.example.dk", "bo@bager.example.dk", "karen@example.dk"] {
        assert_eq!(app.smtp.mails_to(to).len(), 1, "{to}");
    }
}

/// A customer without HUB access gives no HUB access to its contacts: with send_welcome_mail,
/// such a row is imported without mail, whether the customer is new or already there.
async fn welcome_mail_on_import_skips_customers_without_hub_access(app: TestApp) {
    let mut row = company_row(
        "ERP-9",
        "Lukket ApS",
        vec![pb::ContactInput { hub_access: Some(true), ..contact("Lars", "Luk", "lars@lukket.example.dk") }],
    );
    row.customer.as_mut().unwrap().hub_access = false;
    row.send_welcome_mail = true;
    use pb::ImportOutcome::*;

    let first = import(&app, vec![row.clone()]).await;
    assert_eq!(outcomes(&first), [Created], "the row is imported, only the mail is skipped: {first:?}");
    let again = import(&app, vec![row]).await;
    assert_eq!(outcomes(&again), [Updated], "{again:?}");
    assert_eq!(again.results[0].customer_id, first.results[0].customer_id);
    assert_eq!(app.deliver_all().await, 0);
    assert_eq!(app.smtp.count(), 0);
    let c = app.customer(&first.results[0].customer_id).await;
    assert!(!c.hub_access);
    assert_eq!(c.contacts[0].welcome_mail.as_ref().unwrap().send_count, 0);
}

/// An import does not outlive its key: rows after the key was revoked are
/// refused (UNAUTHENTICATED) and not imported; the rows before it stay.
async fn an_import_stops_when_its_key_is_revoked(app: TestApp) {
    let (user_id, key) = app.staff_with_key("import@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    let key_id = app.scalar_text(&format!("SELECT id FROM api_keys WHERE staff_user_id = '{user_id}'")).await;
    let (rows, rx) = tokio::sync::mpsc::channel(4);
    let mut importer = app.customers(&key);
    let call =
        tokio::spawn(async move { importer.import_customers(tokio_stream::wrappers::ReceiverStream::new(rx)).await });
    rows.send(company_row("REF-1", "Første ApS", vec![])).await.unwrap();
    let first = "SELECT COUNT(*) FROM customers WHERE external_ref = 'REF-1'";
    for _ in 0..1_000 {
        if app.scalar(first).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(app.scalar(first).await, 1, "the first row is in");
    app.admin_workspace().revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: key_id }).await.unwrap();
    // The stream may already have ended on the refused row.
    let _ = rows.send(company_row("REF-2", "Anden ApS", vec![])).await;
    drop(rows);
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM customers WHERE external_ref = 'REF-2'").await, 0);
    assert_eq!(app.scalar(first).await, 1);
}

both_databases!(
    an_import_stops_when_its_key_is_revoked,
    import_reports_each_row,
    reimport_updates_instead_of_duplicating,
    rows_that_cannot_apply_are_errors,
    import_sends_welcome_mail_once,
    welcome_mail_on_import_skips_customers_without_hub_access,
);
