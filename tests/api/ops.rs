use crate::support::*;
use customerhub::grpc::pb;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use tonic_reflection::pb::{v1, v1alpha};

/// grpcurl needs reflection (either version) to list services and to decode
/// error details; health is the standard service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_and_health_are_served() {
    let app = spawn_app(Backend::Sqlite).await;

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel());
    let requests = vec![
        v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
        },
        v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                "google.rpc.BadRequest".into(),
            )),
        },
    ];
    let mut stream = client.server_reflection_info(tokio_stream::iter(requests)).await.unwrap().into_inner();
    let listed = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) = listed.message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "customerhub.v1.CustomerService",
        "customerhub.v1.WorkspaceService",
        "customerhub.v1.HubService",
        "customerhub.v1.PunchCardService",
        "customerhub.v1.TimesheetService",
        "customerhub.v1.ReminderService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let file = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(file.message_response, Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
        "google.rpc error details are not resolvable: {file:?}"
    );

    let mut old = v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel());
    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut stream = old.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let listed = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(listed.message_response, Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(ref l)) if l.service.iter().any(|s| s.name == "customerhub.v1.CustomerService"))
    );

    let mut health = HealthClient::new(app.channel());
    for service in ["", "customerhub.v1.CustomerService"] {
        let status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    // Health and reflection need no key; everything else does.
    let err = app.anonymous_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
}

/// Every SQLite connection of the service keeps one plan per statement
/// (`store::sqlite_plans`), the writer and the readers alike; without it each
/// `LIMIT ?` is parsed and planned again on every run (BENCHMARKS.md, fix 10).
#[tokio::test]
async fn sqlite_connections_keep_their_plans() {
    let app = spawn_app(Backend::Sqlite).await;
    // Reads and writes through the pools first, so the connections asked are ones that served.
    app.admin_customers().get_customer(pb::GetCustomerRequest { customer_id: "0".repeat(26) }).await.ok();
    app.admin_customers().create_customer(company("Plan ApS", &[])).await.unwrap();
    for pool in [app.state.db.get_sqlite_connection_pool(), app.state.reads.get_sqlite_connection_pool()] {
        let mut conn = pool.acquire().await.unwrap();
        assert!(customerhub::store::sqlite_plans::plans_are_stable(&mut conn).await.unwrap());
    }
}

/// On SQLite, reads outside a transaction have read-only connections of
/// their own beside the one writer (`store::connect_reads`): a write holding
/// the writer holds up no read, reads never see what it has not committed,
/// and see it as soon as it has.
#[tokio::test]
async fn sqlite_reads_do_not_wait_for_the_writer() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    // A read that queued for the writer would fail after this, UNAVAILABLE.
    let app = spawn_app_with(Backend::Sqlite, None, |s| s.db_acquire_timeout_ms = 300).await;
    let created = app.admin_customers().create_customer(company("Før ApS", &[])).await.unwrap().into_inner();
    let id = created.customer.unwrap().id;
    // A list, not GetCustomer: that is cached (`store::customer_cache`), and
    // a change made by hand in SQL is not announced to the cache.
    let read = || async {
        let got = app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await;
        got.expect("answered while the writer is busy").into_inner().customers[0].company_name.clone()
    };

    let write = app.state.db.begin().await.unwrap();
    write
        .execute_unprepared(&format!("UPDATE customers SET company_name = 'Efter ApS' WHERE id = '{id}'"))
        .await
        .unwrap();
    assert_eq!(read().await, "Før ApS", "the open write is not seen");
    write.commit().await.unwrap();
    assert_eq!(read().await, "Efter ApS", "the commit is seen at once");
}
