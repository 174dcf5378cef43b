//! The credential cache (`auth::credential_cache`): a key is looked up in the
//! database once per ten seconds at most, and every change the service makes
//! to what a key resolves to applies to the key's very next call, on this
//! replica at once and on the others as soon as PostgreSQL tells them.
use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use std::time::Duration;
use tonic::Code;

fn list() -> pb::ListCustomersRequest {
    pb::ListCustomersRequest::default()
}

fn staff_update(id: &str, role: pb::StaffRole, area_ids: Vec<String>) -> pb::UpdateStaffUserRequest {
    pb::UpdateStaffUserRequest {
        staff_user: Some(pb::StaffUser { id: id.into(), role: role as i32, area_ids, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["role".into(), "area_ids".into()] }),
    }
}

async fn customer_in(app: &TestApp, name: &str, area: &str) -> String {
    let mut req = company(name, &[]);
    req.customer.as_mut().unwrap().area_id = area.into();
    app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap().id
}

async fn listed(app: &TestApp, key: &str) -> Vec<String> {
    let customers = app.customers(key).list_customers(list()).await.unwrap().into_inner().customers;
    customers.into_iter().map(|c| c.id).collect()
}

/// A key checked a moment ago is not looked up again for ten seconds, so a
/// change made behind the service's back (by hand in SQL) waits that long.
async fn a_checked_key_is_trusted_for_ten_seconds(app: TestApp) {
    let (user_id, key) = app.staff_with_key("cached@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    app.customers(&key).list_customers(list()).await.unwrap();
    app.execute(&format!("UPDATE api_keys SET revoked_at = created_at WHERE staff_user_id = '{user_id}'")).await;

    app.customers(&key).list_customers(list()).await.expect("still trusted: checked a moment ago");
    app.clock.advance(chrono::Duration::seconds(9));
    app.customers(&key).list_customers(list()).await.expect("still trusted after 9 s");
    app.clock.advance(chrono::Duration::seconds(1));
    let err = app.customers(&key).list_customers(list()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// Role, areas, the user and the area itself: each change applies to the
/// key's next call although the key was checked just before.
async fn changes_to_staff_apply_to_their_next_call(app: TestApp) {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let nord_customer = customer_in(&app, "Nordkunde", &nord).await;
    let syd_customer = customer_in(&app, "Sydkunde", &syd).await;
    let (sup_id, sup_key) =
        app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let mut admin = app.admin_workspace();

    // Areas.
    assert_eq!(listed(&app, &sup_key).await, [nord_customer]);
    admin.update_staff_user(staff_update(&sup_id, pb::StaffRole::Supervisor, vec![syd.clone()])).await.unwrap();
    assert_eq!(listed(&app, &sup_key).await, [syd_customer]);

    // An area deleted: its supervisors lose it.
    admin.delete_area(pb::DeleteAreaRequest { area_id: syd.clone() }).await.unwrap();
    assert_eq!(listed(&app, &sup_key).await, Vec::<String>::new());

    // Role: a supervisor may not create areas; promoted, at once they may.
    let create_area = || pb::CreateAreaRequest { name: "Vest".into(), request_id: String::new() };
    let err = app.workspace(&sup_key).create_area(create_area()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    admin.update_staff_user(staff_update(&sup_id, pb::StaffRole::Admin, vec![])).await.unwrap();
    app.workspace(&sup_key).create_area(create_area()).await.expect("an admin now");

    // A deleted user's keys stop.
    admin.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: sup_id }).await.unwrap();
    let err = app.customers(&sup_key).list_customers(list()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

both_databases!(a_checked_key_is_trusted_for_ten_seconds, changes_to_staff_apply_to_their_next_call);

async fn staff_stream(app: &TestApp, key: &str) -> tonic::Streaming<pb::SubscribeStaffMessagesResponse> {
    let req = pb::SubscribeStaffMessagesRequest { after_sequence: 0 };
    app.notifications(key).subscribe_staff_messages(req).await.unwrap().into_inner()
}

/// A staff stream re-checks its key at each heartbeat as a call would,
/// through the cache: a key revoked by hand in SQL keeps its stream for the
/// cache's ten seconds, and then ends it.
async fn a_staff_streams_heartbeat_checks_its_key_through_the_cache(app: TestApp) {
    let (user_id, key) = app.staff_with_key("lytter@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    let mut stream = staff_stream(&app, &key).await;
    app.execute(&format!("UPDATE api_keys SET revoked_at = created_at WHERE staff_user_id = '{user_id}'")).await;

    let early = ended_within(&mut stream, Duration::from_millis(1000)).await;
    assert!(early.is_none(), "ended by a heartbeat within the cache's ten seconds: {early:?}");
    app.clock.advance(chrono::Duration::seconds(10));
    let status = ended_within(&mut stream, Duration::from_secs(5)).await.expect("still open past the cache's bound");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

/// Deleting the staff user through the service ends its stream at the next
/// heartbeat, though its key was checked (and kept) just before.
async fn a_staff_stream_ends_at_the_heartbeat_after_its_user_is_deleted(app: TestApp) {
    let (user_id, key) = app.staff_with_key("vikar@rengoering.example.dk", pb::StaffRole::Supervisor, vec![]).await;
    let mut stream = staff_stream(&app, &key).await;
    app.admin_workspace().delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: user_id }).await.unwrap();
    let status = ended_within(&mut stream, Duration::from_secs(5)).await.expect("the stream outlived its user");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

both_databases!(
    a_staff_streams_heartbeat_checks_its_key_through_the_cache,
    a_staff_stream_ends_at_the_heartbeat_after_its_user_is_deleted
);

/// Two replicas on one PostgreSQL: a key checked on one and revoked through
/// the other stops on the first as soon as the NOTIFY arrives, long before
/// its ten seconds are up (the first replica's clock does not move at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_replica_stops_on_the_others() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_app_with(Backend::Postgres, Some(a.database_url.clone()), |_| {}).await;
    let (user_id, key) = a.staff_with_key("moving@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    b.customers(&key).list_customers(list()).await.expect("b checks the key and keeps it");
    let key_id = a.scalar_text(&format!("SELECT id FROM api_keys WHERE staff_user_id = '{user_id}'")).await;

    a.admin_workspace().revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: key_id }).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match b.customers(&key).list_customers(list()).await {
            Err(e) => {
                assert_eq!(e.code(), Code::Unauthenticated);
                break;
            }
            Ok(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Ok(_) => panic!("replica b still accepts a key revoked on a, 5 s later"),
        }
    }
}
