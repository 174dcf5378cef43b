use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

async fn credentials_are_required(app: TestApp) {
    let err = app.anonymous_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err =
        app.customers("chk_not-a-real-key").list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = app.customers("gibberish").list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // A revoked key stops working at once.
    let (_, key) = app.staff_with_key("temp@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    app.customers(&key).list_customers(pb::ListCustomersRequest::default()).await.unwrap();
    let keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    assert_eq!(keys.len(), 2);
    let this = keys.iter().find(|k| key.starts_with(&k.prefix)).unwrap();
    let revoked = app
        .admin_workspace()
        .revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: this.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.api_key.unwrap().revoke_time.is_some());
    let err = app.customers(&key).list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// One workspace never sees or touches another's data.
async fn tenants_are_isolated(app: TestApp) {
    let mut req = company("A's Customer", &[("Ann", "A", "ann@a.example.dk")]);
    req.customer.as_mut().unwrap().external_ref = "SHARED-REF".into();
    let a = app.admin_customers().create_customer(req.clone()).await.unwrap().into_inner().customer.unwrap();
    let (_, b_key) = app.other_workspace().await;
    let b = app.customers(&b_key);

    assert!(
        b.clone().list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner().customers.is_empty()
    );
    let code = |r: Result<tonic::Response<_>, tonic::Status>| r.map(|_: tonic::Response<()>| ()).unwrap_err().code();
    let _ = code;
    assert_eq!(
        b.clone().get_customer(pb::GetCustomerRequest { customer_id: a.id.clone() }).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        b.clone()
            .update_customer(pb::UpdateCustomerRequest {
                customer: Some(pb::Customer {
                    id: a.id.clone(),
                    company_name: "Hijacked".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["company_name".into()] }),
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        b.clone().delete_customer(pb::DeleteCustomerRequest { customer_id: a.id.clone() }).await.unwrap_err().code(),
        Code::NotFound
    );
    let contact_id = a.contacts[0].id.clone();
    assert_eq!(
        b.clone().get_contact(pb::GetContactRequest { contact_id: contact_id.clone() }).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        b.clone()
            .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: contact_id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        b.clone().delete_contact(pb::DeleteContactRequest { contact_id: contact_id.clone() }).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        b.clone()
            .list_contacts(pb::ListContactsRequest { customer_id: a.id.clone(), ..Default::default() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        b.clone()
            .create_contact(pb::CreateContactRequest {
                customer_id: a.id.clone(),
                contact: Some(pb::ContactInput {
                    first_name: "E".into(),
                    last_name: "Vil".into(),
                    email: "evil@b.example.dk".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // External references are per workspace.
    b.clone().create_customer(req).await.unwrap();
    // Staff, areas and keys too.
    let b_ws = app.workspace(&b_key);
    assert_eq!(
        b_ws.clone()
            .get_staff_user(pb::GetStaffUserRequest { staff_user_id: app.admin_id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let a_keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    assert_eq!(
        b_ws.clone()
            .revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: a_keys[0].id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let area = app.area("Nord").await;
    assert_eq!(
        b_ws.clone().delete_area(pb::DeleteAreaRequest { area_id: area }).await.unwrap_err().code(),
        Code::NotFound
    );
    let b_workspace =
        b_ws.clone().get_workspace(pb::GetWorkspaceRequest {}).await.unwrap().into_inner().workspace.unwrap();
    assert_ne!(b_workspace.id, app.workspace_id);
    // A's customer is untouched.
    let still = app
        .admin_customers()
        .get_customer(pb::GetCustomerRequest { customer_id: a.id })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(still.display_name, "A's Customer");
    assert_eq!(still.contacts.len(), 1);
}

/// A supervisor sees and changes only customers of its areas.
async fn supervisors_see_only_their_areas(app: TestApp) {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let (_, sup_key) =
        app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let mut in_nord = company("Nordkunde", &[("Nina", "Nord", "nina@nord.example.dk")]);
    in_nord.customer.as_mut().unwrap().area_id = nord.clone();
    let mut in_syd = company("Sydkunde", &[("Sune", "Syd", "sune@syd.example.dk")]);
    in_syd.customer.as_mut().unwrap().area_id = syd.clone();
    let nord_c = app.admin_customers().create_customer(in_nord).await.unwrap().into_inner().customer.unwrap();
    let syd_c = app.admin_customers().create_customer(in_syd.clone()).await.unwrap().into_inner().customer.unwrap();
    let no_area = app
        .admin_customers()
        .create_customer(company("Uden område", &[]))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();

    let sup = app.customers(&sup_key);
    let listed = sup.clone().list_customers(pb::ListCustomersRequest::default()).await.unwrap().into_inner().customers;
    assert_eq!(listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [nord_c.id.as_str()]);
    let listed = sup
        .clone()
        .list_customers(pb::ListCustomersRequest { area_id: syd.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert!(listed.is_empty());
    sup.clone().get_customer(pb::GetCustomerRequest { customer_id: nord_c.id.clone() }).await.unwrap();
    for id in [&syd_c.id, &no_area.id] {
        assert_eq!(
            sup.clone().get_customer(pb::GetCustomerRequest { customer_id: id.clone() }).await.unwrap_err().code(),
            Code::NotFound
        );
        assert_eq!(
            sup.clone()
                .delete_customer(pb::DeleteCustomerRequest { customer_id: id.clone() })
                .await
                .unwrap_err()
                .code(),
            Code::NotFound
        );
    }
    assert_eq!(
        sup.clone()
            .get_contact(pb::GetContactRequest { contact_id: syd_c.contacts[0].id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        sup.clone()
            .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: syd_c.contacts[0].id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // Creating in another area, or moving a customer there, is denied; without an area it is refused.
    assert_eq!(sup.clone().create_customer(in_syd).await.unwrap_err().code(), Code::PermissionDenied);
    assert_fields(&sup.clone().create_customer(company("Ingen", &[])).await.unwrap_err(), &["customer.area_id"]);
    let err = sup
        .clone()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer { id: nord_c.id.clone(), area_id: syd.clone(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["area_id".into()] }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Admin-only operations.
    let sup_ws = app.workspace(&sup_key);
    assert_eq!(
        sup_ws
            .clone()
            .create_area(pb::CreateAreaRequest { name: "Øst".into(), request_id: String::new() })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        sup_ws
            .clone()
            .update_workspace(pb::UpdateWorkspaceRequest {
                workspace: Some(pb::Workspace { name: "Mine".into(), ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
            })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let import = sup.clone().import_customers(tokio_stream::iter(vec![])).await.unwrap_err();
    assert_eq!(import.code(), Code::PermissionDenied);
    // Moving the supervisor to Syd changes what it sees at once.
    let me = sup_ws.clone().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    assert_eq!(me.len(), 1, "a supervisor lists only its own keys");
    let sup_id = me[0].staff_user_id.clone();
    app.admin_workspace()
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: sup_id, area_ids: vec![syd.clone()], ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["area_ids".into()] }),
        })
        .await
        .unwrap();
    sup.clone().get_customer(pb::GetCustomerRequest { customer_id: syd_c.id.clone() }).await.unwrap();
    assert_eq!(
        sup.clone().get_customer(pb::GetCustomerRequest { customer_id: nord_c.id }).await.unwrap_err().code(),
        Code::NotFound
    );
}

both_databases!(credentials_are_required, tenants_are_isolated, supervisors_see_only_their_areas);
