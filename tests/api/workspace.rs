use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
}

async fn get_ws(app: &TestApp) -> pb::Workspace {
    app.admin_workspace().get_workspace(pb::GetWorkspaceRequest {}).await.unwrap().into_inner().workspace.unwrap()
}

async fn area_names(app: &TestApp) -> Vec<String> {
    app.admin_workspace()
        .list_areas(pb::ListAreasRequest::default())
        .await
        .unwrap()
        .into_inner()
        .areas
        .into_iter()
        .map(|a| a.name)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn supervisor(email: &str, area_ids: Vec<String>) -> pb::CreateStaffUserRequest {
    pb::CreateStaffUserRequest {
        staff_user: Some(pb::StaffUser {
            email: email.into(),
            name: "Sofie Supervisor".into(),
            role: pb::StaffRole::Supervisor as i32,
            area_ids,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// GetWorkspace returns the caller's workspace as bootstrapped; any staff role may read it.
async fn get_workspace_returns_the_bootstrapped_one(app: TestApp) {
    let w = get_ws(&app).await;
    assert_eq!(w.id, app.workspace_id);
    assert_eq!(w.name, "Rengøring A/S");
    assert_eq!(w.time_zone, "Europe/Copenhagen");
    assert_eq!(w.default_locale, pb::Locale::Da as i32);
    assert_eq!(w.default_tone, pb::Tone::Formal as i32);
    assert_eq!(w.sender_email, "kontakt@rengoering.example.dk");
    assert_eq!(w.hub_base_url, "https://hub.example.dk");
    assert_eq!(w.sms_currency, "DKK");
    assert!(!w.sms_enabled);
    assert!(w.create_time.is_some());
    assert!(!w.etag.is_empty());

    let (_, sup_key) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![]).await;
    let seen = app
        .workspace(&sup_key)
        .get_workspace(pb::GetWorkspaceRequest {})
        .await
        .unwrap()
        .into_inner()
        .workspace
        .unwrap();
    assert_eq!(seen, w);

    let (other_id, other_key) = app.other_workspace().await;
    let other = app
        .workspace(&other_key)
        .get_workspace(pb::GetWorkspaceRequest {})
        .await
        .unwrap()
        .into_inner()
        .workspace
        .unwrap();
    assert_eq!(other.id, other_id);
    assert_eq!(other.name, "Frisør Fie");
    assert_eq!(other.time_zone, "Europe/Stockholm");
    assert_eq!(other.default_locale, pb::Locale::Sv as i32);
    assert_eq!(other.sms_currency, "SEK");

    let err = app.workspace("chk_not-a-key").get_workspace(pb::GetWorkspaceRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// A mask changes exactly the fields it names.
async fn update_workspace_with_mask_changes_only_masked_fields(app: TestApp) {
    let before = get_ws(&app).await;
    let updated = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            // Unmasked fields carry junk and empty values on purpose: they must be ignored.
            workspace: Some(pb::Workspace {
                id: "ignored".into(),
                name: "  Rengøring & Co A/S ".into(),
                sms_enabled: true,
                sms_price_minor: 80,
                time_zone: "Mars/Olympus".into(),
                sender_email: "broken".into(),
                hub_base_url: String::new(),
                sms_currency: String::new(),
                ..Default::default()
            }),
            update_mask: mask(&["name", "sms_enabled", "sms_price_minor"]),
        })
        .await
        .unwrap()
        .into_inner()
        .workspace
        .unwrap();
    assert_eq!(updated.id, app.workspace_id);
    assert_eq!(updated.name, "Rengøring & Co A/S");
    assert!(updated.sms_enabled);
    assert_eq!(updated.sms_price_minor, 80);
    assert_eq!(updated.time_zone, before.time_zone);
    assert_eq!(updated.sender_email, before.sender_email);
    assert_eq!(updated.sender_name, before.sender_name);
    assert_eq!(updated.hub_base_url, before.hub_base_url);
    assert_eq!(updated.sms_currency, before.sms_currency);
    assert_eq!(updated.default_locale, before.default_locale);
    assert_eq!(updated.default_tone, before.default_tone);
    assert_eq!(updated.book_again_sms_payer, before.book_again_sms_payer);
    assert_eq!(updated.create_time, before.create_time);
    assert_ne!(updated.etag, before.etag);
    assert_eq!(get_ws(&app).await, updated, "the change is stored");

    // A stale etag loses and changes nothing.
    let err = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { name: "Stale".into(), etag: before.etag.clone(), ..Default::default() }),
            update_mask: mask(&["name"]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(get_ws(&app).await, updated);
    // The current etag wins.
    let renamed = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { name: "Fresh".into(), etag: updated.etag.clone(), ..Default::default() }),
            update_mask: mask(&["name"]),
        })
        .await
        .unwrap()
        .into_inner()
        .workspace
        .unwrap();
    assert_eq!(renamed.name, "Fresh");
    assert!(renamed.sms_enabled);
    assert_ne!(renamed.etag, updated.etag);
}

/// An empty mask means every writable field.
async fn update_workspace_with_empty_mask_changes_every_writable_field(app: TestApp) {
    let before = get_ws(&app).await;
    let mut w = before.clone();
    w.name = "Städ AB".into();
    w.time_zone = "Europe/Stockholm".into();
    w.default_locale = pb::Locale::Sv as i32;
    w.default_tone = pb::Tone::Casual as i32;
    w.sender_name = "Städ AB Kundtjänst".into();
    w.sender_email = "Info@Stad.example.se".into();
    w.hub_base_url = "https://portal.stad.example.se/".into();
    w.booking_url = "https://boka.stad.example.se/online".into();
    w.sms_enabled = true;
    w.sms_price_minor = 95;
    w.sms_currency = "sek".into();
    w.book_again_sms_payer = pb::SmsPayer::StaffMember as i32;
    let updated = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest { workspace: Some(w), update_mask: None })
        .await
        .unwrap()
        .into_inner()
        .workspace
        .unwrap();
    assert_eq!(updated.name, "Städ AB");
    assert_eq!(updated.time_zone, "Europe/Stockholm");
    assert_eq!(updated.default_locale, pb::Locale::Sv as i32);
    assert_eq!(updated.default_tone, pb::Tone::Casual as i32);
    assert_eq!(updated.sender_name, "Städ AB Kundtjänst");
    assert_eq!(updated.sender_email, "info@stad.example.se");
    assert_eq!(updated.hub_base_url, "https://portal.stad.example.se");
    assert_eq!(updated.booking_url, "https://boka.stad.example.se/online");
    assert!(updated.sms_enabled);
    assert_eq!(updated.sms_price_minor, 95);
    assert_eq!(updated.sms_currency, "SEK");
    assert_eq!(updated.book_again_sms_payer, pb::SmsPayer::StaffMember as i32);
    assert_eq!(get_ws(&app).await, updated);

    // With an empty mask, fields left empty are written too, so the required ones are named.
    let err = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { name: "Only The Name".into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec![] }),
        })
        .await
        .unwrap_err();
    assert_fields(
        &err,
        &[
            "workspace.time_zone",
            "workspace.default_locale",
            "workspace.default_tone",
            "workspace.sender_name",
            "workspace.sender_email",
            "workspace.hub_base_url",
            "workspace.sms_currency",
        ],
    );
    assert_eq!(get_ws(&app).await, updated, "a refused update writes nothing");
}

/// Every bad value in one request is named; bad masks and non-admins are refused.
async fn update_workspace_refuses_bad_input(app: TestApp) {
    let before = get_ws(&app).await;
    let err = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace {
                name: "Good Name".into(),
                time_zone: "Mars/Olympus".into(),
                sender_email: "not-an-email".into(),
                hub_base_url: "ftp://x".into(),
                sms_currency: "kr".into(),
                sms_price_minor: -1,
                ..Default::default()
            }),
            update_mask: mask(&[
                "name",
                "time_zone",
                "sender_email",
                "hub_base_url",
                "sms_currency",
                "sms_price_minor",
            ]),
        })
        .await
        .unwrap_err();
    assert_fields(
        &err,
        &[
            "workspace.time_zone",
            "workspace.sender_email",
            "workspace.hub_base_url",
            "workspace.sms_currency",
            "workspace.sms_price_minor",
        ],
    );
    assert_eq!(violations(&err).len(), 5, "{:?}", violations(&err));
    assert_eq!(get_ws(&app).await, before, "nothing is written, not even the good name");

    // Unknown or read-only paths name the mask.
    for paths in [&["shoe_size"][..], &["name", "colour"][..], &["id"][..], &["etag"][..]] {
        let err = app
            .admin_workspace()
            .update_workspace(pb::UpdateWorkspaceRequest {
                workspace: Some(pb::Workspace { name: "Whatever".into(), ..Default::default() }),
                update_mask: mask(paths),
            })
            .await
            .unwrap_err();
        assert_fields(&err, &["update_mask"]);
    }
    let err = app
        .admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest { workspace: None, update_mask: mask(&["name"]) })
        .await
        .unwrap_err();
    assert_fields(&err, &["workspace"]);
    assert_eq!(get_ws(&app).await, before);

    // Supervisors read the workspace but cannot change it.
    let (_, sup_key) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![]).await;
    let err = app
        .workspace(&sup_key)
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { name: "Mine Now".into(), ..Default::default() }),
            update_mask: mask(&["name"]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(get_ws(&app).await, before);
}

/// Areas: create, list by name in pages, rename, delete, with unique names.
async fn areas_lifecycle(app: TestApp) {
    let mut ws = app.admin_workspace();
    let mut ids = std::collections::HashMap::new();
    for name in ["Syd", "Nord", "Midt"] {
        let a = ws
            .create_area(pb::CreateAreaRequest { name: name.into(), request_id: String::new() })
            .await
            .unwrap()
            .into_inner()
            .area
            .unwrap();
        assert_eq!(a.name, name);
        assert!(a.create_time.is_some());
        ids.insert(name, a.id);
    }
    assert_eq!(area_names(&app).await, ["Midt", "Nord", "Syd"]);

    // One per page, following the tokens.
    let mut paged = vec![];
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page =
            ws.list_areas(pb::ListAreasRequest { page_size: 1, page_token: token.clone() }).await.unwrap().into_inner();
        pages += 1;
        assert_eq!(page.areas.len(), 1, "page {pages}");
        paged.push(page.areas[0].name.clone());
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(pages < 10, "paging does not end");
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, ["Midt", "Nord", "Syd"]);
    let page =
        ws.list_areas(pb::ListAreasRequest { page_size: 2, page_token: String::new() }).await.unwrap().into_inner();
    assert_eq!(page.areas.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["Midt", "Nord"]);
    assert!(!page.next_page_token.is_empty());
    let err = ws.list_areas(pb::ListAreasRequest { page_size: 1, page_token: "not-a-token".into() }).await.unwrap_err();
    assert_fields(&err, &["page_token"]);

    // Names are unique, and required.
    let err =
        ws.create_area(pb::CreateAreaRequest { name: "Nord".into(), request_id: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err =
        ws.create_area(pb::CreateAreaRequest { name: "   ".into(), request_id: String::new() }).await.unwrap_err();
    assert_fields(&err, &["name"]);
    let err =
        ws.create_area(pb::CreateAreaRequest { name: String::new(), request_id: String::new() }).await.unwrap_err();
    assert_fields(&err, &["name"]);
    assert_eq!(area_names(&app).await, ["Midt", "Nord", "Syd"]);

    // Rename.
    let renamed = ws
        .update_area(pb::UpdateAreaRequest { area_id: ids["Midt"].clone(), name: "Centrum".into() })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    assert_eq!(renamed.id, ids["Midt"]);
    assert_eq!(renamed.name, "Centrum");
    assert_eq!(area_names(&app).await, ["Centrum", "Nord", "Syd"]);
    let err =
        ws.update_area(pb::UpdateAreaRequest { area_id: ids["Syd"].clone(), name: "Nord".into() }).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err =
        ws.update_area(pb::UpdateAreaRequest { area_id: ids["Syd"].clone(), name: " ".into() }).await.unwrap_err();
    assert_fields(&err, &["name"]);
    let err = ws
        .update_area(pb::UpdateAreaRequest { area_id: uuid::Uuid::now_v7().to_string(), name: "Vest".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(area_names(&app).await, ["Centrum", "Nord", "Syd"]);

    // Delete.
    ws.delete_area(pb::DeleteAreaRequest { area_id: ids["Syd"].clone() }).await.unwrap();
    assert_eq!(area_names(&app).await, ["Centrum", "Nord"]);
    let err = ws.delete_area(pb::DeleteAreaRequest { area_id: ids["Syd"].clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = ws.delete_area(pb::DeleteAreaRequest { area_id: "nope".into() }).await.unwrap_err();
    assert_fields(&err, &["area_id"]);
    // The freed name can be used again.
    ws.create_area(pb::CreateAreaRequest { name: "Syd".into(), request_id: String::new() }).await.unwrap();
    assert_eq!(area_names(&app).await, ["Centrum", "Nord", "Syd"]);

    // Supervisors list areas but do not change them.
    let (_, sup_key) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![]).await;
    let mut sup = app.workspace(&sup_key);
    assert_eq!(sup.list_areas(pb::ListAreasRequest::default()).await.unwrap().into_inner().areas.len(), 3);
    let err =
        sup.update_area(pb::UpdateAreaRequest { area_id: ids["Nord"].clone(), name: "Mit".into() }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = sup.delete_area(pb::DeleteAreaRequest { area_id: ids["Nord"].clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(area_names(&app).await, ["Centrum", "Nord", "Syd"]);
}

/// A retried CreateArea with the same request_id returns the first area and creates one.
async fn create_area_is_idempotent_by_request_id(app: TestApp) {
    let mut ws = app.admin_workspace();
    let req = pb::CreateAreaRequest { name: "Øst".into(), request_id: "area-retry-1".into() };
    let first = ws.create_area(req.clone()).await.unwrap().into_inner().area.unwrap();
    let second = ws.create_area(req.clone()).await.unwrap().into_inner().area.unwrap();
    assert_eq!(first, second);
    assert_eq!(area_names(&app).await, ["Øst"]);
    // Without a key, the same name is a duplicate.
    let err =
        ws.create_area(pb::CreateAreaRequest { name: "Øst".into(), request_id: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // Another key is another create.
    let other = ws
        .create_area(pb::CreateAreaRequest { name: "Vest".into(), request_id: "area-retry-2".into() })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(area_names(&app).await, ["Vest", "Øst"]);
    let err =
        ws.create_area(pb::CreateAreaRequest { name: "Syd".into(), request_id: "x".repeat(200) }).await.unwrap_err();
    assert_fields(&err, &["request_id"]);
}

/// Deleting an area leaves its customers without an area, and its supervisors without it.
async fn deleting_an_area_frees_its_customers(app: TestApp) {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let mut req = company("Nordkunde ApS", &[("Nina", "Nord", "nina@nord.example.dk")]);
    req.customer.as_mut().unwrap().area_id = nord.clone();
    let in_nord = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    assert_eq!(in_nord.area_id, nord);
    let mut req = company("Sydkunde ApS", &[]);
    req.customer.as_mut().unwrap().area_id = syd.clone();
    let in_syd = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let sup = app
        .admin_workspace()
        .create_staff_user(supervisor("sup@rengoering.example.dk", vec![nord.clone(), syd.clone()]))
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();

    app.admin_workspace().delete_area(pb::DeleteAreaRequest { area_id: nord.clone() }).await.unwrap();

    let got = app
        .admin_customers()
        .get_customer(pb::GetCustomerRequest { customer_id: in_nord.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(got.area_id, "", "the customer is kept, without an area");
    assert_eq!(got.display_name, "Nordkunde ApS");
    assert_eq!(got.contacts.len(), 1, "its contacts are kept");
    let other = app
        .admin_customers()
        .get_customer(pb::GetCustomerRequest { customer_id: in_syd.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(other.area_id, syd, "customers of other areas are untouched");
    let sup = app
        .admin_workspace()
        .get_staff_user(pb::GetStaffUserRequest { staff_user_id: sup.id })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(sup.area_ids, std::slice::from_ref(&syd));
    let listed = app
        .admin_customers()
        .list_customers(pb::ListCustomersRequest { area_id: syd, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert_eq!(listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [in_syd.id.as_str()]);
}

/// Staff users: create, get, list with filters, update by mask, with every bad field named.
async fn staff_users_lifecycle(app: TestApp) {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let mut ws = app.admin_workspace();

    let mut req = supervisor("Sofie@Rengoering.example.dk", vec![nord.clone(), syd.clone()]);
    req.staff_user.as_mut().unwrap().phone = "+45 20 30 40 50".into();
    let sofie = ws.create_staff_user(req).await.unwrap().into_inner().staff_user.unwrap();
    assert!(!sofie.id.is_empty());
    assert_eq!(sofie.email, "sofie@rengoering.example.dk");
    assert_eq!(sofie.name, "Sofie Supervisor");
    assert_eq!(sofie.phone, "+4520304050");
    assert_eq!(sofie.role, pb::StaffRole::Supervisor as i32);
    assert_eq!(sorted(sofie.area_ids.clone()), sorted(vec![nord.clone(), syd.clone()]));
    assert!(sofie.create_time.is_some());

    // Bad input, each field named.
    let unknown = uuid::Uuid::now_v7().to_string();
    let err = ws.create_staff_user(supervisor("x@rengoering.example.dk", vec![unknown.clone()])).await.unwrap_err();
    assert_fields(&err, &["staff_user.area_ids[0]"]);
    let err = ws
        .create_staff_user(supervisor("x@rengoering.example.dk", vec![nord.clone(), unknown.clone()]))
        .await
        .unwrap_err();
    assert_fields(&err, &["staff_user.area_ids[1]"]);
    let mut req = supervisor("x@rengoering.example.dk", vec![nord.clone()]);
    req.staff_user.as_mut().unwrap().role = pb::StaffRole::Admin as i32;
    assert_fields(&ws.create_staff_user(req).await.unwrap_err(), &["staff_user.area_ids"]);
    let mut req = supervisor("x@rengoering.example.dk", vec![]);
    req.staff_user.as_mut().unwrap().role = pb::StaffRole::Unspecified as i32;
    assert_fields(&ws.create_staff_user(req).await.unwrap_err(), &["staff_user.role"]);
    let req = pb::CreateStaffUserRequest {
        staff_user: Some(pb::StaffUser {
            email: "nope".into(),
            name: " ".into(),
            role: pb::StaffRole::Supervisor as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_fields(&ws.create_staff_user(req).await.unwrap_err(), &["staff_user.email", "staff_user.name"]);
    assert_fields(&ws.create_staff_user(pb::CreateStaffUserRequest::default()).await.unwrap_err(), &["staff_user"]);
    // E-mails are unique in the workspace, whatever their case.
    let err = ws.create_staff_user(supervisor("SOFIE@rengoering.example.dk", vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = ws.create_staff_user(supervisor("admin@rengoering.example.dk", vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    let mut req = supervisor("bo@rengoering.example.dk", vec![syd.clone()]);
    req.staff_user.as_mut().unwrap().name = "Bo Boss".into();
    let bo = ws.create_staff_user(req).await.unwrap().into_inner().staff_user.unwrap();
    let req = pb::CreateStaffUserRequest {
        staff_user: Some(pb::StaffUser {
            email: "carl@rengoering.example.dk".into(),
            name: "Carl Chef".into(),
            role: pb::StaffRole::Admin as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let carl = ws.create_staff_user(req).await.unwrap().into_inner().staff_user.unwrap();
    assert_eq!(carl.role, pb::StaffRole::Admin as i32);
    assert!(carl.area_ids.is_empty());

    // Get.
    let got = ws
        .get_staff_user(pb::GetStaffUserRequest { staff_user_id: sofie.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(got.id, sofie.id);
    assert_eq!(got.email, sofie.email);
    assert_eq!(got.role, sofie.role);
    assert_eq!(sorted(got.area_ids), sorted(sofie.area_ids.clone()));
    let err = ws
        .get_staff_user(pb::GetStaffUserRequest { staff_user_id: uuid::Uuid::now_v7().to_string() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_fields(
        &ws.get_staff_user(pb::GetStaffUserRequest { staff_user_id: "42".into() }).await.unwrap_err(),
        &["staff_user_id"],
    );

    // List: by e-mail, filtered by role and by area.
    let emails = |users: Vec<pb::StaffUser>| users.into_iter().map(|u| u.email).collect::<Vec<_>>();
    let list = |role: pb::StaffRole, area_id: &str| pb::ListStaffUsersRequest {
        role: role as i32,
        area_id: area_id.into(),
        ..Default::default()
    };
    let all = ws.list_staff_users(list(pb::StaffRole::Unspecified, "")).await.unwrap().into_inner().staff_users;
    assert_eq!(
        emails(all),
        [
            "admin@rengoering.example.dk",
            "bo@rengoering.example.dk",
            "carl@rengoering.example.dk",
            "sofie@rengoering.example.dk"
        ]
    );
    let admins = ws.list_staff_users(list(pb::StaffRole::Admin, "")).await.unwrap().into_inner().staff_users;
    assert_eq!(emails(admins), ["admin@rengoering.example.dk", "carl@rengoering.example.dk"]);
    let sups = ws.list_staff_users(list(pb::StaffRole::Supervisor, "")).await.unwrap().into_inner().staff_users;
    assert_eq!(emails(sups), ["bo@rengoering.example.dk", "sofie@rengoering.example.dk"]);
    let in_nord = ws.list_staff_users(list(pb::StaffRole::Unspecified, &nord)).await.unwrap().into_inner().staff_users;
    assert_eq!(emails(in_nord), ["sofie@rengoering.example.dk"]);
    let in_syd = ws.list_staff_users(list(pb::StaffRole::Supervisor, &syd)).await.unwrap().into_inner().staff_users;
    assert_eq!(emails(in_syd), ["bo@rengoering.example.dk", "sofie@rengoering.example.dk"]);
    let admins_in_syd = ws.list_staff_users(list(pb::StaffRole::Admin, &syd)).await.unwrap().into_inner().staff_users;
    assert!(admins_in_syd.is_empty());
    let page = ws
        .list_staff_users(pb::ListStaffUsersRequest { page_size: 3, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.staff_users.len(), 3);
    let rest = ws
        .list_staff_users(pb::ListStaffUsersRequest {
            page_size: 3,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(emails(rest.staff_users), ["sofie@rengoering.example.dk"]);
    assert!(rest.next_page_token.is_empty());
    assert_fields(
        &ws.list_staff_users(pb::ListStaffUsersRequest { role: 99, ..Default::default() }).await.unwrap_err(),
        &["role"],
    );
    assert_fields(
        &ws.list_staff_users(pb::ListStaffUsersRequest { area_id: "north".into(), ..Default::default() })
            .await
            .unwrap_err(),
        &["area_id"],
    );

    // Update the name only: everything else stays.
    let renamed = ws
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: sofie.id.clone(),
                name: "Sofie Sørensen".into(),
                email: "ignored@rengoering.example.dk".into(),
                etag: sofie.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
        })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(renamed.name, "Sofie Sørensen");
    assert_eq!(renamed.email, "sofie@rengoering.example.dk");
    assert_eq!(renamed.phone, "+4520304050");
    assert_eq!(renamed.role, pb::StaffRole::Supervisor as i32);
    assert_eq!(sorted(renamed.area_ids.clone()), sorted(vec![nord.clone(), syd.clone()]));
    assert_ne!(renamed.etag, sofie.etag);
    // A stale etag loses.
    let err = ws
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: sofie.id.clone(),
                name: "Stale".into(),
                etag: sofie.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);

    // Change the role: Bo becomes an admin (and drops his areas), Carl a supervisor of Nord.
    let bo_admin = ws
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: bo.id.clone(),
                role: pb::StaffRole::Admin as i32,
                ..Default::default()
            }),
            update_mask: mask(&["role", "area_ids"]),
        })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(bo_admin.role, pb::StaffRole::Admin as i32);
    assert!(bo_admin.area_ids.is_empty());
    assert_eq!(bo_admin.name, "Bo Boss");
    let carl_sup = ws
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: carl.id.clone(),
                role: pb::StaffRole::Supervisor as i32,
                area_ids: vec![nord.clone()],
                ..Default::default()
            }),
            update_mask: mask(&["role", "area_ids"]),
        })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(carl_sup.role, pb::StaffRole::Supervisor as i32);
    assert_eq!(carl_sup.area_ids, std::slice::from_ref(&nord));
    let admins = ws.list_staff_users(list(pb::StaffRole::Admin, "")).await.unwrap().into_inner().staff_users;
    assert_eq!(emails(admins), ["admin@rengoering.example.dk", "bo@rengoering.example.dk"]);

    // Bad updates.
    let upd = |id: &str, u: pb::StaffUser, paths: &[&str]| pb::UpdateStaffUserRequest {
        staff_user: Some(pb::StaffUser { id: id.into(), ..u }),
        update_mask: mask(paths),
    };
    let err = ws
        .update_staff_user(upd(
            &sofie.id,
            pb::StaffUser { area_ids: vec![unknown.clone()], ..Default::default() },
            &["area_ids"],
        ))
        .await
        .unwrap_err();
    assert_fields(&err, &["staff_user.area_ids[0]"]);
    let err = ws
        .update_staff_user(upd(&sofie.id, pb::StaffUser { role: 0, ..Default::default() }, &["role"]))
        .await
        .unwrap_err();
    assert_fields(&err, &["staff_user.role"]);
    let err = ws
        .update_staff_user(upd(
            &sofie.id,
            pb::StaffUser { email: "bo@rengoering.example.dk".into(), ..Default::default() },
            &["email"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = ws
        .update_staff_user(upd(&sofie.id, pb::StaffUser { name: "X".into(), ..Default::default() }, &["shoe_size"]))
        .await
        .unwrap_err();
    assert_fields(&err, &["update_mask"]);
    let err = ws
        .update_staff_user(upd(
            &uuid::Uuid::now_v7().to_string(),
            pb::StaffUser { name: "X".into(), ..Default::default() },
            &["name"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let unchanged = ws
        .get_staff_user(pb::GetStaffUserRequest { staff_user_id: sofie.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(unchanged.etag, renamed.etag, "refused updates write nothing");
    assert_eq!(unchanged.email, "sofie@rengoering.example.dk");

    // Supervisors read staff but change nothing.
    let sup_key = app
        .admin_workspace()
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: sofie.id.clone(), name: "sofie".into() })
        .await
        .unwrap()
        .into_inner()
        .secret;
    let mut sup = app.workspace(&sup_key);
    sup.get_staff_user(pb::GetStaffUserRequest { staff_user_id: app.admin_id.clone() }).await.unwrap();
    let err = sup.create_staff_user(supervisor("new@rengoering.example.dk", vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = sup
        .update_staff_user(upd(
            &sofie.id,
            pb::StaffUser { role: pb::StaffRole::Admin as i32, ..Default::default() },
            &["role", "area_ids"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = sup.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: bo.id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// The workspace always keeps an admin, and nobody deletes themselves.
async fn last_admin_and_self_are_protected(app: TestApp) {
    let mut ws = app.admin_workspace();
    let demote_self = pb::UpdateStaffUserRequest {
        staff_user: Some(pb::StaffUser {
            id: app.admin_id.clone(),
            role: pb::StaffRole::Supervisor as i32,
            ..Default::default()
        }),
        update_mask: mask(&["role"]),
    };
    let err = ws.update_staff_user(demote_self.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err =
        ws.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: app.admin_id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let me = ws
        .get_staff_user(pb::GetStaffUserRequest { staff_user_id: app.admin_id.clone() })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    assert_eq!(me.role, pb::StaffRole::Admin as i32);
    // The key still works as an admin's.
    ws.create_area(pb::CreateAreaRequest { name: "Nord".into(), request_id: String::new() }).await.unwrap();
    // Nor may the last admin key be revoked: nobody could act any more.
    let my_key = app.scalar_text(&format!("SELECT id FROM api_keys WHERE staff_user_id = '{}'", app.admin_id)).await;
    let err = ws.revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: my_key.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // An admin without a key is no one to hand over to.
    let keyless = pb::StaffUser {
        email: "uden.noegle@rengoering.example.dk".into(),
        name: "Uden Nøgle".into(),
        role: pb::StaffRole::Admin as i32,
        ..Default::default()
    };
    let keyless = ws
        .create_staff_user(pb::CreateStaffUserRequest { staff_user: Some(keyless), request_id: String::new() })
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    let err = ws.update_staff_user(demote_self.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    ws.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: keyless.id }).await.unwrap();

    // With a second admin, one may step down; then the other is the last one.
    let (bo_id, bo_key) = app.staff_with_key("bo@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    let mut bo = app.workspace(&bo_key);
    // Even with another admin around, nobody deletes themselves.
    let err = bo.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: bo_id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let demoted = ws.update_staff_user(demote_self).await.unwrap().into_inner().staff_user.unwrap();
    assert_eq!(demoted.role, pb::StaffRole::Supervisor as i32);
    // The bootstrap key now acts as a supervisor.
    let err =
        ws.create_area(pb::CreateAreaRequest { name: "Syd".into(), request_id: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = bo
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: bo_id.clone(),
                role: pb::StaffRole::Supervisor as i32,
                ..Default::default()
            }),
            update_mask: mask(&["role"]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // Bo, the last admin, may delete the former admin, but not himself.
    bo.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: app.admin_id.clone() }).await.unwrap();
    let err = bo.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: bo_id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let admins = bo
        .list_staff_users(pb::ListStaffUsersRequest { role: pb::StaffRole::Admin as i32, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .staff_users;
    assert_eq!(admins.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [bo_id.as_str()]);
}

/// Two admins removing (deleting or demoting) each other at the same moment must not
/// leave the workspace without an admin: exactly one of the two calls may win.
async fn concurrent_removals_keep_an_admin(app: TestApp) {
    // Make a second admin the only one.
    let (mut keeper_id, mut keeper_key) =
        app.staff_with_key("keeper@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    app.workspace(&keeper_key)
        .delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: app.admin_id.clone() })
        .await
        .unwrap();
    for round in 0..30 {
        let (other_id, other_key) = {
            let mut keeper = app.workspace(&keeper_key);
            let other = keeper
                .create_staff_user(pb::CreateStaffUserRequest {
                    staff_user: Some(pb::StaffUser {
                        email: format!("other{round}@rengoering.example.dk"),
                        name: "Other Admin".into(),
                        role: pb::StaffRole::Admin as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .staff_user
                .unwrap();
            let key = keeper
                .create_api_key(pb::CreateApiKeyRequest { staff_user_id: other.id.clone(), name: "k".into() })
                .await
                .unwrap()
                .into_inner()
                .secret;
            (other.id, key)
        };
        let mut a = app.workspace(&keeper_key);
        let mut b = app.workspace(&other_key);
        let demote = |id: &str| pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: id.into(),
                role: pb::StaffRole::Supervisor as i32,
                ..Default::default()
            }),
            update_mask: mask(&["role"]),
        };
        let (a_won, b_won, codes) = if round % 2 == 0 {
            let (ra, rb) = tokio::join!(
                a.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: other_id.clone() }),
                b.delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: keeper_id.clone() }),
            );
            (ra.is_ok(), rb.is_ok(), [ra.err().map(|e| e.code()), rb.err().map(|e| e.code())])
        } else {
            let (ra, rb) =
                tokio::join!(a.update_staff_user(demote(&other_id)), b.update_staff_user(demote(&keeper_id)));
            (ra.is_ok(), rb.is_ok(), [ra.err().map(|e| e.code()), rb.err().map(|e| e.code())])
        };
        let what = if round % 2 == 0 { "deleted" } else { "demoted" };
        assert!(!(a_won && b_won), "round {round}: both admins {what} each other, the workspace has no admin left");
        assert!(a_won || b_won, "round {round}: neither call won: {codes:?}");
        for code in codes.into_iter().flatten() {
            assert!(
                matches!(code, Code::FailedPrecondition | Code::Unauthenticated | Code::PermissionDenied),
                "round {round}: the losing call failed with {code:?}"
            );
        }
        // Whoever is left is the only admin and goes on.
        if b_won {
            keeper_id = other_id;
            keeper_key = other_key;
        }
        let left = app
            .workspace(&keeper_key)
            .list_staff_users(pb::ListStaffUsersRequest { role: pb::StaffRole::Admin as i32, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .staff_users;
        assert_eq!(left.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [keeper_id.as_str()], "round {round}");
    }
}

/// Deleting a staff user deletes it and its keys: they stop working at once.
async fn deleting_a_staff_user_revokes_its_keys(app: TestApp) {
    let nord = app.area("Nord").await;
    let (sup_id, sup_key) =
        app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let second = app
        .admin_workspace()
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: sup_id.clone(), name: "second".into() })
        .await
        .unwrap()
        .into_inner()
        .secret;
    for key in [&sup_key, &second] {
        app.workspace(key).get_workspace(pb::GetWorkspaceRequest {}).await.unwrap();
        app.customers(key).list_customers(pb::ListCustomersRequest::default()).await.unwrap();
    }
    let (admin2_id, admin2_key) =
        app.staff_with_key("admin2@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;

    app.admin_workspace()
        .delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: sup_id.clone() })
        .await
        .unwrap();
    for key in [&sup_key, &second] {
        let err = app.workspace(key).get_workspace(pb::GetWorkspaceRequest {}).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let err = app.customers(key).list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let err = app
        .admin_workspace()
        .get_staff_user(pb::GetStaffUserRequest { staff_user_id: sup_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err =
        app.admin_workspace().delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: sup_id.clone() }).await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    assert!(keys.iter().all(|k| k.staff_user_id != sup_id), "the user's keys are gone: {keys:?}");
    // The e-mail is free again.
    app.admin_workspace().create_staff_user(supervisor("sup@rengoering.example.dk", vec![nord])).await.unwrap();

    // Deleting an admin (not the last one) works the same way.
    app.admin_workspace().delete_staff_user(pb::DeleteStaffUserRequest { staff_user_id: admin2_id }).await.unwrap();
    let err = app.workspace(&admin2_key).get_workspace(pb::GetWorkspaceRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // The caller's own key is unaffected.
    get_ws(&app).await;
}

/// API keys: admins create and list them; the secret is shown once; supervisors see and revoke their own.
async fn api_keys_by_role(app: TestApp) {
    let mut ws = app.admin_workspace();
    let sup = ws
        .create_staff_user(supervisor("sup@rengoering.example.dk", vec![]))
        .await
        .unwrap()
        .into_inner()
        .staff_user
        .unwrap();
    let created = ws
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: sup.id.clone(), name: "booking system".into() })
        .await
        .unwrap()
        .into_inner();
    let secret = created.secret.clone();
    let key = created.api_key.unwrap();
    assert!(secret.starts_with("chk_"), "{secret}");
    assert!(secret.len() > 20);
    assert!(!key.prefix.is_empty());
    assert!(secret.starts_with(&key.prefix));
    assert!(key.prefix.len() < secret.len(), "the prefix is not the whole secret");
    assert_eq!(key.staff_user_id, sup.id);
    assert_eq!(key.name, "booking system");
    assert!(key.create_time.is_some());
    assert!(key.revoke_time.is_none());

    // The admin lists every key, oldest first, never with the secret.
    let listed = ws.list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.api_keys.len(), 2);
    assert_eq!(listed.api_keys[0].staff_user_id, app.admin_id);
    assert!(app.admin_key.starts_with(&listed.api_keys[0].prefix));
    assert_eq!(listed.api_keys[1], key);
    assert!(!format!("{listed:?}").contains(&secret), "the secret is never listed");
    assert!(!format!("{listed:?}").contains(&app.admin_key));
    let only_sup = ws
        .list_api_keys(pb::ListApiKeysRequest { staff_user_id: sup.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(only_sup, std::slice::from_ref(&key));
    let page =
        ws.list_api_keys(pb::ListApiKeysRequest { page_size: 1, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(page.api_keys.len(), 1);
    let next = ws
        .list_api_keys(pb::ListApiKeysRequest { page_size: 1, page_token: page.next_page_token, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.api_keys, std::slice::from_ref(&key));
    assert!(next.next_page_token.is_empty());

    // The secret works, as the supervisor.
    let mut sup_ws = app.workspace(&secret);
    sup_ws.get_workspace(pb::GetWorkspaceRequest {}).await.unwrap();
    // A second key for the supervisor.
    let second = ws
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: sup.id.clone(), name: "phone".into() })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.secret, secret);
    let second_key = second.api_key.unwrap();

    // A supervisor lists only its own keys, whatever it asks for.
    let own = sup_ws.list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    assert_eq!(own, [key.clone(), second_key.clone()]);
    let own = sup_ws
        .list_api_keys(pb::ListApiKeysRequest { staff_user_id: app.admin_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert!(own.iter().all(|k| k.staff_user_id == sup.id), "{own:?}");

    // It cannot revoke an admin's key (it does not even see it), nor create keys.
    let admin_key_id = listed.api_keys[0].id.clone();
    let err = sup_ws.revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: admin_key_id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    get_ws(&app).await;
    let err = sup_ws
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: sup.id.clone(), name: "mine".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = sup_ws
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: app.admin_id.clone(), name: "escalate".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(ws.list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys.len(), 3);

    // It revokes its own second key; that key stops working, the first does not.
    let revoked = sup_ws
        .revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: second_key.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(revoked.id, second_key.id);
    assert!(revoked.revoke_time.is_some());
    let err = app.workspace(&second.secret).get_workspace(pb::GetWorkspaceRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    sup_ws.get_workspace(pb::GetWorkspaceRequest {}).await.unwrap();
    let own = sup_ws.list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    assert!(own.iter().find(|k| k.id == second_key.id).unwrap().revoke_time.is_some(), "revoked keys stay listed");
    // And the key it is using.
    sup_ws.revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: key.id.clone() }).await.unwrap();
    let err = sup_ws.get_workspace(pb::GetWorkspaceRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Bad input.
    let err = ws
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: "nobody".into(), name: String::new() })
        .await
        .unwrap_err();
    assert_fields(&err, &["staff_user_id", "name"]);
    let err = ws
        .create_api_key(pb::CreateApiKeyRequest { staff_user_id: uuid::Uuid::now_v7().to_string(), name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err =
        ws.revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: uuid::Uuid::now_v7().to_string() }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // The admin's own key was never touched.
    get_ws(&app).await;
}

both_databases!(
    get_workspace_returns_the_bootstrapped_one,
    update_workspace_with_mask_changes_only_masked_fields,
    update_workspace_with_empty_mask_changes_every_writable_field,
    update_workspace_refuses_bad_input,
    areas_lifecycle,
    create_area_is_idempotent_by_request_id,
    deleting_an_area_frees_its_customers,
    staff_users_lifecycle,
    last_admin_and_self_are_protected,
    concurrent_removals_keep_an_admin,
    deleting_a_staff_user_revokes_its_keys,
    api_keys_by_role,
);

/// Two replicas on one PostgreSQL: replica b reads the workspace for a
/// registration and keeps it (`store::workspace_config`); a change made
/// through a applies on b as soon as the NOTIFY arrives, long before the
/// cache's ten seconds are up (b's clock does not move at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_changed_on_one_replica_applies_on_the_others() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_app_with(Backend::Postgres, Some(a.database_url.clone()), |_| {}).await;
    let c = a.admin_customers().create_customer(company("Replika ApS", &[])).await.unwrap().into_inner();
    let mut req = card(&c.customer.unwrap().id, "Udløbet", 10);
    req.punch_card.as_mut().unwrap().expiry_date = "2026-02-01".into();
    let k = a.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap();
    let punch = || pb::RegisterPunchRequest { punch_card_id: k.id.clone(), amount: 1, ..Default::default() };
    let err = b.cards(&a.admin_key).register_punch(punch()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "b has read that expired cards refuse: {err:?}");

    a.admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { allow_expired_card_registration: true, ..Default::default() }),
            update_mask: mask(&["allow_expired_card_registration"]),
        })
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match b.cards(&a.admin_key).register_punch(punch()).await {
            Ok(r) => {
                assert_eq!(r.into_inner().punch_card.unwrap().used, 1);
                break;
            }
            Err(e) if e.code() == Code::FailedPrecondition && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(e) => panic!("replica b still refuses 5 s after a allowed expired cards: {e:?}"),
        }
    }
}
