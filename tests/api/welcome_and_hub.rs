use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

/// Creating a company with two contacts and "send welcome mail" mails each
/// contact a Danish welcome with a working one-time activation link.
async fn welcome_mail_activates_hub_login(app: TestApp) {
    let mut req = company(
        "Bager Hansen ApS",
        &[("Anna", "Jensen", "Anna@Bager.example.dk"), ("Bo", "Berg", "bo@bager.example.dk")],
    );
    req.send_welcome_mail = true;
    let customer = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    assert_eq!(customer.contacts.len(), 2);
    assert_eq!(app.deliver_all().await, 2);

    let mails = app.smtp.wait_for(2).await;
    let anna = app.smtp.mails_to("anna@bager.example.dk");
    assert_eq!(anna.len(), 1, "one welcome mail to Anna: {mails:?}");
    let mail = &anna[0];
    assert_eq!(mail.subject(), "Velkommen til Rengøring A/Ss kundeportal");
    assert!(mail.text_body().contains("Kære Anna Jensen"), "{}", mail.text_body());
    assert!(mail.text_body().contains("Bager Hansen ApS"));
    assert!(mail.header("From").unwrap().contains("kontakt@rengoering.example.dk"));
    assert!(mail.html_body().unwrap().contains("<a href=\"https://hub.example.dk/activate?token="));
    assert!(mail.message_id().is_some());

    let contact = customer.contacts.iter().find(|c| c.email == "anna@bager.example.dk").unwrap();
    let got = app
        .admin_customers()
        .get_contact(pb::GetContactRequest { contact_id: contact.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let welcome = got.contact.unwrap().welcome_mail.unwrap();
    assert_eq!(welcome.send_count, 1);
    assert!(welcome.first_send_time.is_some());

    // Activate with the link's token: sets the password and logs in.
    let token = activation_token(mail);
    let activated = app
        .anonymous_hub()
        .activate_account(pb::ActivateAccountRequest { token: token.clone(), password: "kanelsnegl-2026".into() })
        .await
        .unwrap()
        .into_inner();
    let profile = activated.profile.unwrap();
    assert_eq!(profile.email, "anna@bager.example.dk");
    assert_eq!(profile.customer_name, "Bager Hansen ApS");
    assert_eq!(profile.locale, pb::Locale::Da as i32);
    assert_eq!(profile.modules, vec![pb::Module::PunchCards as i32]);

    // The link works once.
    let again = app
        .anonymous_hub()
        .activate_account(pb::ActivateAccountRequest { token, password: "another-password".into() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);

    // The session token is a HUB credential.
    let me = app.hub(&activated.session_token).get_profile(pb::GetProfileRequest {}).await.unwrap().into_inner();
    assert_eq!(me.profile.unwrap().contact_id, contact.id);

    // Log in with e-mail (any case) and password.
    let login = app
        .anonymous_hub()
        .login(pb::LoginRequest {
            workspace_id: app.workspace_id.clone(),
            email: "ANNA@bager.example.dk".into(),
            password: "kanelsnegl-2026".into(),
            customer_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(login.session_token.starts_with("hub_"));
    let wrong = app
        .anonymous_hub()
        .login(pb::LoginRequest {
            workspace_id: app.workspace_id.clone(),
            email: "anna@bager.example.dk".into(),
            password: "not-the-password".into(),
            customer_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);

    // Logging out ends that session only.
    app.hub(&login.session_token).logout(pb::LogoutRequest {}).await.unwrap();
    let gone = app.hub(&login.session_token).get_profile(pb::GetProfileRequest {}).await.unwrap_err();
    assert_eq!(gone.code(), Code::Unauthenticated);
    app.hub(&activated.session_token).get_profile(pb::GetProfileRequest {}).await.unwrap();

    // A HUB session is no API key.
    let denied =
        app.customers(&activated.session_token).list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);
}

/// Resending makes the earlier link useless; the newest one works.
async fn resend_voids_the_earlier_link(app: TestApp) {
    let customer = app
        .admin_customers()
        .create_customer(company("Tømrer Tim", &[("Tim", "Tømrer", "tim@tomrer.example.dk")]))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let contact_id = customer.contacts[0].id.clone();
    assert_eq!(app.deliver_all().await, 0, "no mail unless asked");
    for _ in 0..2 {
        app.admin_customers()
            .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: contact_id.clone() })
            .await
            .unwrap();
    }
    assert_eq!(app.deliver_all().await, 2);
    let mails = app.smtp.wait_for(2).await;
    let (first, second) = (activation_token(&mails[0]), activation_token(&mails[1]));
    assert_ne!(first, second);
    let (old, new) = if mails[0].message_id() < mails[1].message_id() { (first, second) } else { (second, first) };
    let err = app
        .anonymous_hub()
        .activate_account(pb::ActivateAccountRequest { token: old, password: "a-long-password".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    app.anonymous_hub()
        .activate_account(pb::ActivateAccountRequest { token: new, password: "a-long-password".into() })
        .await
        .unwrap();
    let contact = app
        .admin_customers()
        .get_contact(pb::GetContactRequest { contact_id })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(contact.welcome_mail.unwrap().send_count, 2);
    assert!(contact.activated);
    assert!(contact.last_login_time.is_some());
}

/// The welcome mail needs HUB access on customer and contact.
async fn welcome_needs_hub_access(app: TestApp) {
    let mut req = company("Lukket Firma", &[("Lis", "Lund", "lis@lukket.example.dk")]);
    req.customer.as_mut().unwrap().hub_access = false;
    let customer = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let err = app
        .admin_customers()
        .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: customer.contacts[0].id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    use tonic_types::StatusExt;
    let details = err.get_error_details();
    let violations = &details.precondition_failure().unwrap().violations;
    assert!(violations.iter().any(|v| v.r#type == "HUB_ACCESS"), "{violations:?}");

    // Asking for a welcome mail at creation without HUB access names the field.
    let mut req = company("Lukket Igen", &[("Lis", "Lund", "lis@lukket.example.dk")]);
    req.customer.as_mut().unwrap().hub_access = false;
    req.send_welcome_mail = true;
    let err = app.admin_customers().create_customer(req).await.unwrap_err();
    assert_fields(&err, &["send_welcome_mail"]);
    assert_eq!(app.deliver_all().await, 0);
}

/// The customer's language and tone choose the text.
async fn welcome_speaks_the_customers_language(app: TestApp) {
    let mut req = company("Baker Ltd", &[("Sam", "Smith", "sam@baker.example.com")]);
    req.customer.as_mut().unwrap().locale = pb::Locale::En as i32;
    req.customer.as_mut().unwrap().tone = pb::Tone::Casual as i32;
    req.send_welcome_mail = true;
    app.admin_customers().create_customer(req).await.unwrap();
    app.deliver_all().await;
    let mail = &app.smtp.wait_for(1).await[0];
    assert_eq!(mail.subject(), "Welcome to the Rengøring A/S customer portal");
    assert!(mail.text_body().starts_with("Hi Sam,"), "{}", mail.text_body());
}

/// Removing a contact's HUB access ends its sessions and blocks login;
/// deleting a contact ends its sessions too.
async fn losing_access_ends_sessions(app: TestApp) {
    let mut req =
        company("Maler Mads", &[("Mads", "Maler", "mads@maler.example.dk"), ("Mia", "Maler", "mia@maler.example.dk")]);
    req.send_welcome_mail = true;
    let customer = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    app.deliver_all().await;
    let mut sessions = vec![];
    for mail in app.smtp.wait_for(2).await {
        let s = app
            .anonymous_hub()
            .activate_account(pb::ActivateAccountRequest {
                token: activation_token(&mail),
                password: "malerpensel-1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        sessions.push((s.profile.unwrap().contact_id, s.session_token));
    }
    let (mads_id, mads_token) = sessions.iter().find(|(id, _)| *id == customer.contacts[0].id).cloned().unwrap();
    let (mia_id, mia_token) = sessions.iter().find(|(id, _)| *id == customer.contacts[1].id).cloned().unwrap();

    app.admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: mads_id, hub_access: false, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["hub_access".into()] }),
        })
        .await
        .unwrap();
    assert_eq!(
        app.hub(&mads_token).get_profile(pb::GetProfileRequest {}).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let login = app
        .anonymous_hub()
        .login(pb::LoginRequest {
            workspace_id: app.workspace_id.clone(),
            email: "mads@maler.example.dk".into(),
            password: "malerpensel-1".into(),
            customer_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(login.code(), Code::Unauthenticated);

    app.hub(&mia_token).get_profile(pb::GetProfileRequest {}).await.unwrap();
    app.admin_customers().delete_contact(pb::DeleteContactRequest { contact_id: mia_id.clone() }).await.unwrap();
    assert_eq!(
        app.hub(&mia_token).get_profile(pb::GetProfileRequest {}).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let gone = app.admin_customers().get_contact(pb::GetContactRequest { contact_id: mia_id }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

/// Bad activation and login input names its fields.
async fn hub_login_input_is_checked(app: TestApp) {
    let err = app
        .anonymous_hub()
        .activate_account(pb::ActivateAccountRequest { token: String::new(), password: "short".into() })
        .await
        .unwrap_err();
    assert_fields(&err, &["token", "password"]);
    let err = app
        .anonymous_hub()
        .login(pb::LoginRequest {
            workspace_id: "nope".into(),
            email: "not-an-email".into(),
            password: String::new(),
            customer_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["workspace_id", "email", "password"]);
    let err = app
        .anonymous_hub()
        .activate_account(pb::ActivateAccountRequest { token: "made-up".into(), password: "long-enough-pw".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = app.anonymous_hub().get_profile(pb::GetProfileRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = app.hub(&app.admin_key).get_profile(pb::GetProfileRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

fn login(app: &TestApp, email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        workspace_id: app.workspace_id.clone(),
        email: email.into(),
        password: password.into(),
        customer_id: String::new(),
    }
}

fn new_email(contact_id: &str, email: &str) -> pb::UpdateContactRequest {
    pb::UpdateContactRequest {
        contact: Some(pb::Contact { id: contact_id.into(), email: email.into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
    }
}

/// A contact's e-mail is its login. Corrected (a typo, a new employee), the
/// welcome link mailed to the old address and the password set through it
/// stop counting: whoever reads the old address cannot get in. A welcome
/// mail to the new address starts over.
async fn a_new_email_voids_the_old_link_and_password(app: TestApp) {
    let mut req = company(
        "Tastefejl ApS",
        &[("Ana", "Typo", "ana@tastefejl.example.dk"), ("Bent", "Brug", "bent@tastefejl.example.dk")],
    );
    req.send_welcome_mail = true;
    let customer = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    app.deliver_all().await;
    app.smtp.wait_for(2).await;
    let ana_link = activation_token(&app.smtp.mails_to("ana@tastefejl.example.dk")[0]);
    let bent_link = activation_token(&app.smtp.mails_to("bent@tastefejl.example.dk")[0]);
    let id = |email: &str| customer.contacts.iter().find(|c| c.email == email).unwrap().id.clone();
    let (ana, bent) = (id("ana@tastefejl.example.dk"), id("bent@tastefejl.example.dk"));
    let activate = |token: String| pb::ActivateAccountRequest { token, password: "gammel-kode-2026".into() };
    app.anonymous_hub().activate_account(activate(bent_link)).await.expect("Bent sets his password");

    let mut staff = app.admin_customers();
    staff.update_contact(new_email(&ana, "anna@tastefejl.example.dk")).await.unwrap();
    let bent_now = staff.update_contact(new_email(&bent, "bent@nyt.example.dk")).await.unwrap().into_inner();
    assert!(!bent_now.contact.unwrap().activated, "the password set for the old address still counts");

    let err = app.anonymous_hub().activate_account(activate(ana_link)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "the link mailed to the typo still works: {err:?}");
    let err = app.anonymous_hub().login(login(&app, "bent@nyt.example.dk", "gammel-kode-2026")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "the old password logs in with the new address: {err:?}");

    // Welcomed at the new address, Anna gets in.
    app.smtp.clear();
    let session = app.hub_session_for(&ana).await;
    let profile = app.hub(&session).get_profile(pb::GetProfileRequest {}).await.unwrap().into_inner();
    assert_eq!(profile.profile.unwrap().contact_id, ana);
}

/// A private customer's e-mail is its contact's login: changing it through
/// UpdateCustomer voids the password as well.
async fn a_private_customers_new_email_voids_its_password(app: TestApp) {
    let req = private_customer("Per", "Privat", "per@privat.example.dk", true);
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    app.hub_session_for(&c.contacts[0].id).await;
    app.anonymous_hub().login(login(&app, "per@privat.example.dk", "a-good-long-password")).await.expect("logs in");
    let update = pb::UpdateCustomerRequest {
        customer: Some(pb::Customer { id: c.id.clone(), email: "per@nyt.example.dk".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
    };
    let updated = app.admin_customers().update_customer(update).await.unwrap().into_inner().customer.unwrap();
    assert!(!updated.contacts[0].activated);
    let err = app.anonymous_hub().login(login(&app, "per@nyt.example.dk", "a-good-long-password")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
}

/// A resent welcome link is how a forgotten password is reset: setting the
/// new one ends the sessions made with the old (a lost phone, say).
async fn a_new_password_ends_the_other_sessions(app: TestApp) {
    let c = app.welcomed_company("Nulstil ApS", &[("Nina", "Nul", "nina@nulstil.example.dk")]).await;
    let old = app.hub_session_for(&c.contacts[0].id).await;
    app.hub(&old).get_profile(pb::GetProfileRequest {}).await.expect("the first session works");
    let new = app.hub_session_for(&c.contacts[0].id).await;
    let err = app.hub(&old).get_profile(pb::GetProfileRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "the session made with the old password still works: {err:?}");
    app.hub(&new).get_profile(pb::GetProfileRequest {}).await.expect("the new session works");
}

/// Password guessing is throttled per account: after a burst of attempts
/// for one e-mail, even the right password waits; other accounts do not.
async fn login_attempts_are_throttled_per_account(app: TestApp) {
    let c = app
        .welcomed_company(
            "Gæt ApS",
            &[("Gitte", "Gæt", "gitte@gaet.example.dk"), ("Gorm", "Gæt", "gorm@gaet.example.dk")],
        )
        .await;
    app.hub_session_for(&c.contacts[0].id).await;
    app.hub_session_for(&c.contacts[1].id).await;
    let mut hub = app.anonymous_hub();
    for guess in 0..customerhub::auth::login_throttle::LOGIN_ATTEMPT_BURST {
        let err = hub.login(login(&app, "gitte@gaet.example.dk", &format!("gæt-nummer-{guess}"))).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "guess {guess}: {err:?}");
    }
    let err = hub.login(login(&app, "GITTE@gaet.example.dk", "a-good-long-password")).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    hub.login(login(&app, "gorm@gaet.example.dk", "a-good-long-password")).await.expect("another account logs in");
}

/// The welcome mail is a template like every other notification: the
/// workspace's own text is what goes out, with a working link.
async fn the_workspace_welcome_text_is_sent(app: TestApp) {
    let template = pb::Template {
        kind: pb::NotificationKind::Welcome as i32,
        locale: pb::Locale::Da as i32,
        tone: pb::Tone::Formal as i32,
        subject: "Din adgang til {{ business_name }}".into(),
        body: "Goddag {{ contact_name }}. Aktivér her: {{ activation_link }} (i {{ link_valid_days }} dage)".into(),
        ..Default::default()
    };
    let req = pb::UpdateTemplateRequest { template: Some(template) };
    app.admin_notifications().update_template(req).await.unwrap();

    let mut req = company("Egen Tekst ApS", &[("Emil", "Egen", "emil@egen.example.dk")]);
    req.send_welcome_mail = true;
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    app.deliver_all().await;
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject(), "Din adgang til Rengøring A/S");
    let text = mail.text_body();
    assert!(text.starts_with("Goddag Emil Egen. Aktivér her: https://hub.example.dk/activate?token="), "{text}");
    assert!(text.contains("(i 7 dage)"), "{text}");
    let session = app.activate(&mail).await;
    let profile = app.hub(&session).get_profile(pb::GetProfileRequest {}).await.unwrap().into_inner();
    assert_eq!(profile.profile.unwrap().contact_id, c.contacts[0].id);
}

both_databases!(
    welcome_mail_activates_hub_login,
    resend_voids_the_earlier_link,
    welcome_needs_hub_access,
    welcome_speaks_the_customers_language,
    losing_access_ends_sessions,
    hub_login_input_is_checked,
    a_new_email_voids_the_old_link_and_password,
    a_private_customers_new_email_voids_its_password,
    a_new_password_ends_the_other_sessions,
    login_attempts_are_throttled_per_account,
    the_workspace_welcome_text_is_sent,
);
