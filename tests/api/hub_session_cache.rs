//! The HUB session cache (`auth::hub_session_cache`): a session is looked up
//! in the database once per ten seconds at most, yet it ends at its expiry
//! to the second, and every change the service makes to what it resolves to
//! (logout, HUB access, the contact or customer gone) applies to its very
//! next call: on this replica at once, on the others as soon as PostgreSQL
//! tells them.
use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use std::time::Duration;
use tonic::Code;

async fn profile(app: &TestApp, session: &str) -> Result<pb::GetProfileResponse, tonic::Status> {
    app.hub(session).get_profile(pb::GetProfileRequest {}).await.map(|r| r.into_inner())
}

async fn assert_ended(app: &TestApp, session: &str, after: &str) {
    let err = profile(app, session).await.expect_err(after);
    assert_eq!(err.code(), Code::Unauthenticated, "{after}: {err:?}");
}

/// Switches the customer's HUB access on or off (its contacts keep theirs).
async fn set_customer_hub(app: &TestApp, customer_id: &str, open: bool) {
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer { id: customer_id.into(), hub_access: open, ..Default::default() }),
            update_mask: mask(&["hub_access"]),
        })
        .await
        .unwrap();
}

/// Switches the contact's HUB access off.
async fn close_contact_hub(app: &TestApp, contact_id: &str) {
    app.admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: contact_id.into(), hub_access: false, ..Default::default() }),
            update_mask: mask(&["hub_access"]),
        })
        .await
        .unwrap();
}

/// A customer whose contacts each have a HUB session, checked once (so the
/// cache holds them). Returns the customer id and (contact id, session) pairs.
async fn checked_sessions(app: &TestApp, name: &str, emails: &[&str]) -> (String, Vec<(String, String)>) {
    let contacts: Vec<_> = emails.iter().map(|e| ("Hanne", "Hub", *e)).collect();
    let customer = app.welcomed_company(name, &contacts).await;
    let mut sessions = vec![];
    for contact in &customer.contacts {
        let session = app.hub_session_for(&contact.id).await;
        profile(app, &session).await.expect("a fresh session works");
        sessions.push((contact.id.clone(), session));
    }
    (customer.id, sessions)
}

/// A session checked a moment ago is not looked up again for ten seconds,
/// so a change made behind the service's back (by hand in SQL) waits that long.
async fn a_checked_session_is_trusted_for_ten_seconds(app: TestApp) {
    let (_, sessions) = checked_sessions(&app, "Cache ApS", &["hanne@cache.example.dk"]).await;
    let session = &sessions[0].1;
    app.execute("DELETE FROM hub_sessions").await;

    profile(&app, session).await.expect("still trusted: checked a moment ago");
    app.clock.advance(chrono::Duration::seconds(9));
    profile(&app, session).await.expect("still trusted after 9 s");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_ended(&app, session, "checked 10 s ago: looked up again, and gone").await;
}

/// A session checked a second before it expires is not trusted past it.
async fn a_checked_session_still_ends_at_its_expiry(app: TestApp) {
    let (_, sessions) = checked_sessions(&app, "Udløb ApS", &["hanne@udlob.example.dk"]).await;
    let session = &sessions[0].1;
    let ttl = chrono::Duration::hours(app.state.settings.session_ttl_hours);
    app.clock.advance(ttl - chrono::Duration::seconds(1));
    profile(&app, session).await.expect("a second before its expiry");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_ended(&app, session, "at its expiry, though checked a second ago").await;
}

/// Every change to what a session resolves to applies to its next call,
/// though the session was checked just before; sessions of other
/// customers, and a logged-out contact's other session, go on working.
async fn changes_to_hub_access_apply_to_the_sessions_next_call(app: TestApp) {
    let mut admin = app.admin_customers();
    let (_, s) = checked_sessions(
        &app,
        "Adgang ApS",
        &[
            "logout@adgang.example.dk",
            "closed@adgang.example.dk",
            "deleted@adgang.example.dk",
            "erased@adgang.example.dk",
        ],
    )
    .await;
    let (second, closed_customer) = checked_sessions(&app, "Lukket ApS", &["anna@lukket.example.dk"]).await;
    let (third, deleted_customer) = checked_sessions(&app, "Slettet ApS", &["bo@slettet.example.dk"]).await;
    let (_, bystander) = checked_sessions(&app, "Tilskuer ApS", &["tina@tilskuer.example.dk"]).await;

    // Logout ends that session only: the contact's second one goes on.
    let login = pb::LoginRequest {
        workspace_id: app.workspace_id.clone(),
        email: "logout@adgang.example.dk".into(),
        password: "a-good-long-password".into(),
        customer_id: String::new(),
    };
    let other_device = app.anonymous_hub().login(login).await.unwrap().into_inner().session_token;
    profile(&app, &other_device).await.unwrap();
    app.hub(&s[0].1).logout(pb::LogoutRequest {}).await.unwrap();
    assert_ended(&app, &s[0].1, "Logout").await;
    profile(&app, &other_device).await.expect("the other session of the logged-out contact");

    // The contact's HUB access removed. Each session is checked again right
    // before its change: the logout above forgot the customer's sessions.
    profile(&app, &s[1].1).await.unwrap();
    close_contact_hub(&app, &s[1].0).await;
    assert_ended(&app, &s[1].1, "UpdateContact hub_access=false").await;

    profile(&app, &s[2].1).await.unwrap();
    admin.delete_contact(pb::DeleteContactRequest { contact_id: s[2].0.clone() }).await.unwrap();
    assert_ended(&app, &s[2].1, "DeleteContact").await;

    profile(&app, &s[3].1).await.unwrap();
    admin.erase_personal_data(pb::ErasePersonalDataRequest { contact_id: s[3].0.clone() }).await.unwrap();
    assert_ended(&app, &s[3].1, "ErasePersonalData").await;

    // The customer's HUB access removed: its contacts keep theirs, yet
    // their sessions stop.
    set_customer_hub(&app, &second, false).await;
    assert_ended(&app, &closed_customer[0].1, "UpdateCustomer hub_access=false").await;

    admin.delete_customer(pb::DeleteCustomerRequest { customer_id: third }).await.unwrap();
    assert_ended(&app, &deleted_customer[0].1, "DeleteCustomer").await;

    profile(&app, &bystander[0].1).await.expect("another customer's session is untouched");
    profile(&app, &other_device).await.expect("and so is the first customer's remaining one");
}

both_databases!(
    a_checked_session_is_trusted_for_ten_seconds,
    a_checked_session_still_ends_at_its_expiry,
    changes_to_hub_access_apply_to_the_sessions_next_call
);

/// Polls `b` until the session stops working there; fails after 5 s.
async fn ends_on(b: &TestApp, session: &str, after: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match profile(b, session).await {
            Err(e) => {
                assert_eq!(e.code(), Code::Unauthenticated, "{after}");
                return;
            }
            Ok(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Ok(_) => panic!("replica b still accepts a session 5 s after {after} on a"),
        }
    }
}

/// Two replicas on one PostgreSQL: a session checked on one and ended
/// through the other stops on the first as soon as the NOTIFY arrives, long
/// before its ten seconds are up (the first replica's clock does not move).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_one_replica_stops_on_the_others() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_app_with(Backend::Postgres, Some(a.database_url.clone()), |_| {}).await;
    let (_, s) = checked_sessions(&a, "Replika ApS", &["ud@replika.example.dk", "luk@replika.example.dk"]).await;
    for (_, session) in &s {
        profile(&b, session).await.expect("b checks the session and keeps it");
    }

    a.hub(&s[0].1).logout(pb::LogoutRequest {}).await.unwrap();
    ends_on(&b, &s[0].1, "Logout").await;

    profile(&b, &s[1].1).await.expect("b checks it again (the logout forgot the customer's sessions)");
    close_contact_hub(&a, &s[1].0).await;
    ends_on(&b, &s[1].1, "UpdateContact hub_access=false").await;
}

async fn subscribed(app: &TestApp, session: &str) -> tonic::Streaming<pb::SubscribeResponse> {
    app.hub(session).subscribe(pb::SubscribeRequest { after_sequence: 0 }).await.unwrap().into_inner()
}

/// A live stream re-checks its session at each heartbeat as a call would,
/// through the cache: a session deleted by hand keeps its stream for the
/// cache's ten seconds, and then ends it.
async fn a_streams_heartbeat_checks_its_session_through_the_cache(app: TestApp) {
    let (_, s) = checked_sessions(&app, "Puls ApS", &["puls@puls.example.dk"]).await;
    let mut stream = subscribed(&app, &s[0].1).await;
    app.execute("DELETE FROM hub_sessions").await;

    let early = ended_within(&mut stream, Duration::from_millis(1000)).await;
    assert!(early.is_none(), "ended by a heartbeat within the cache's ten seconds: {early:?}");
    app.clock.advance(chrono::Duration::seconds(10));
    let status = ended_within(&mut stream, Duration::from_secs(5)).await.expect("still open past the cache's bound");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

/// The stream's next heartbeat hears of a change to HUB access at once,
/// though the session was checked (and kept) just before.
async fn a_stream_ends_at_the_heartbeat_after_its_customer_loses_hub_access(app: TestApp) {
    let (customer, s) = checked_sessions(&app, "Slukket ApS", &["slukket@slukket.example.dk"]).await;
    let mut stream = subscribed(&app, &s[0].1).await;
    set_customer_hub(&app, &customer, false).await;
    let status = ended_within(&mut stream, Duration::from_secs(5)).await.expect("the stream outlived HUB access");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

both_databases!(
    a_streams_heartbeat_checks_its_session_through_the_cache,
    a_stream_ends_at_the_heartbeat_after_its_customer_loses_hub_access
);

/// GetProfile reads the contact and customer through the customer cache:
/// a change through the service shows in the next call, one made by hand
/// in SQL within ten seconds.
async fn the_hub_profile_is_read_through_the_customer_cache(app: TestApp) {
    let (_, s) = checked_sessions(&app, "Profil ApS", &["hanne@profil.example.dk"]).await;
    let (contact_id, session) = &s[0];
    let first_name = |p: pb::GetProfileResponse| p.profile.unwrap().first_name;
    assert_eq!(first_name(profile(&app, session).await.unwrap()), "Hanne");

    app.admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: contact_id.clone(), first_name: "Hanna".into(), ..Default::default() }),
            update_mask: mask(&["first_name"]),
        })
        .await
        .unwrap();
    assert_eq!(first_name(profile(&app, session).await.unwrap()), "Hanna", "UpdateContact");

    app.execute(&format!("UPDATE contacts SET first_name = 'Hand' WHERE id = '{contact_id}'")).await;
    assert_eq!(first_name(profile(&app, session).await.unwrap()), "Hanna", "read a moment ago");
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(first_name(profile(&app, session).await.unwrap()), "Hand", "read 10 s ago: read again");
}

both_databases!(the_hub_profile_is_read_through_the_customer_cache);

/// The listener's connection dropped (here: ended by PostgreSQL) and sqlx
/// listened again on a new one: whatever was announced in between went
/// unheard, so everything cached is forgotten. A session deleted by hand
/// stands in for a logout announced while the listener was away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_reconnects_forgets_what_it_may_have_missed() {
    let app = spawn_app(Backend::Postgres).await;
    let (_, s) = checked_sessions(&app, "Genforbind ApS", &["gen@genforbind.example.dk"]).await;
    let listeners = "FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    let before = app.scalar_text(&format!("SELECT min(pid)::text {listeners}")).await;
    app.execute("DELETE FROM hub_sessions").await;
    profile(&app, &s[0].1).await.expect("still trusted: checked a moment ago");

    app.execute(&format!("SELECT pg_terminate_backend(pid) {listeners}")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = app.scalar_text(&format!("SELECT coalesce(min(pid)::text, '') {listeners}")).await;
        if !now.is_empty() && now != before {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the listener did not reconnect within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ends_on(&app, &s[0].1, "the listener's reconnect").await;
}

/// Switching a customer's HUB access off, through UpdateCustomer or an
/// import, ends its contacts' sessions for good: switched on again, the
/// old sessions stay ended (the contacts log in anew).
async fn a_customer_closed_to_the_hub_loses_its_sessions_for_good(app: TestApp) {
    let (updated, s) = checked_sessions(&app, "Lukket Igen ApS", &["lis@lukket.example.dk"]).await;
    set_customer_hub(&app, &updated, false).await;
    set_customer_hub(&app, &updated, true).await;
    assert_ended(&app, &s[0].1, "UpdateCustomer hub_access off, then on").await;

    let (imported, s) = checked_sessions(&app, "Importeret ApS", &["ida@import.example.dk"]).await;
    app.execute(&format!("UPDATE customers SET external_ref = 'ERP-9' WHERE id = '{imported}'")).await;
    let row = pb::ImportCustomersRequest {
        external_ref: "ERP-9".into(),
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: "Importeret ApS".into(),
            hub_access: false,
            ..Default::default()
        }),
        contacts: vec![pb::ContactInput {
            first_name: "Ida".into(),
            last_name: "Import".into(),
            email: "ida@import.example.dk".into(),
            ..Default::default()
        }],
        send_welcome_mail: false,
    };
    let res = app.admin_customers().import_customers(tokio_stream::iter(vec![row])).await.unwrap().into_inner();
    assert_eq!(res.updated_count, 1, "{res:?}");
    set_customer_hub(&app, &imported, true).await;
    assert_ended(&app, &s[0].1, "ImportCustomers hub_access off, then on").await;
}

both_databases!(a_customer_closed_to_the_hub_loses_its_sessions_for_good);

/// A private customer's e-mail is its login: changing it ends the session.
async fn a_private_customers_new_email_ends_its_session(app: TestApp) {
    let req = private_customer("Karen", "Privat", "karen@privat.example.dk", true);
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let session = app.hub_session_for(&c.contacts[0].id).await;
    profile(&app, &session).await.unwrap();
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer { id: c.id, email: "karen@nyt.example.dk".into(), ..Default::default() }),
            update_mask: mask(&["email"]),
        })
        .await
        .unwrap();
    assert_ended(&app, &session, "a private customer's e-mail changed").await;
}

both_databases!(a_private_customers_new_email_ends_its_session);
