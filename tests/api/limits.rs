use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use std::time::Duration;
use tonic::Code;

/// One busy workspace hits its rate limit; another is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_over_its_rate_gets_resource_exhausted() {
    let app = spawn_app_with(Backend::Sqlite, None, |s| {
        s.rate_limit_per_second = 5;
        s.rate_limit_burst = 5;
    })
    .await;
    let (_, other) = app.other_workspace().await;
    let mut codes = vec![];
    for _ in 0..20 {
        codes.push(match app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await {
            Ok(_) => Code::Ok,
            Err(s) => s.code(),
        });
    }
    assert!(codes[..5].iter().all(|c| *c == Code::Ok), "{codes:?}");
    assert!(codes.contains(&Code::ResourceExhausted), "{codes:?}");
    assert!(codes.iter().all(|c| matches!(c, Code::Ok | Code::ResourceExhausted)));
    app.customers(&other)
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .expect("another workspace has its own budget");
}

/// A message over the size limit is refused with a clear code, and the server goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused() {
    let app = spawn_app_with(Backend::Sqlite, None, |s| s.max_message_bytes = 64 * 1024).await;
    let mut req = company("x", &[]);
    req.customer.as_mut().unwrap().company_name = "x".repeat(100 * 1024);
    let err = app.admin_customers().create_customer(req).await.unwrap_err();
    assert!(matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted), "{err:?}");
    app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap();
}

/// Logging out (or losing HUB access) ends a live stream; so does its lifetime cap.
async fn streams_end_with_their_session(app: TestApp) {
    let c = app.welcomed_company("Strøm ApS", &[("Sif", "Strøm", "sif@stroem.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let mut stream =
        app.hub(&session).subscribe(pb::SubscribeRequest { after_sequence: 0 }).await.unwrap().into_inner();
    app.hub(&session).logout(pb::LogoutRequest {}).await.unwrap();
    let ended = ended_within(&mut stream, Duration::from_secs(10)).await.expect("the stream outlived its session");
    assert_eq!(ended.code(), Code::Unauthenticated);

    // A revoked API key ends a staff stream the same way.
    let (_, key) = app.staff_with_key("temp@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    let mut staff_stream = app
        .notifications(&key)
        .subscribe_staff_messages(pb::SubscribeStaffMessagesRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    let k = keys.iter().find(|k| key.starts_with(&k.prefix)).unwrap();
    app.admin_workspace().revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: k.id.clone() }).await.unwrap();
    let ended = ended_within(&mut staff_stream, Duration::from_secs(10)).await.expect("the stream outlived its key");
    assert_eq!(ended.code(), Code::Unauthenticated);
}

both_databases!(streams_end_with_their_session);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_capped_in_lifetime() {
    let app = spawn_app_with(Backend::Sqlite, None, |s| s.stream_max_lifetime_secs = 1).await;
    let c = app.welcomed_company("Kort ApS", &[("Kai", "Kort", "kai@kort.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let mut stream =
        app.hub(&session).subscribe(pb::SubscribeRequest { after_sequence: 0 }).await.unwrap().into_inner();
    let ended = ended_within(&mut stream, Duration::from_secs(10)).await.unwrap();
    assert_eq!(ended.code(), Code::Unavailable);
    assert!(ended.message().contains("after_sequence = 0"), "{ended:?}");
}
