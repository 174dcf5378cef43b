use super::{
    caller::staff,
    convert::{self, api_key_out, area_out, staff_out, workspace_out},
    pb::{self, workspace_service_server::WorkspaceService},
};
use crate::{
    app::{self, AppState, staff::StaffFields, workspace::WorkspacePatch},
    domain::page::PageRequest,
    error::{AppError, Violations},
};
use tonic::{Request, Response, Status};

pub struct WorkspaceApi {
    state: AppState,
}

impl WorkspaceApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

const WORKSPACE_PATHS: &[&str] = &[
    "name",
    "time_zone",
    "default_locale",
    "default_tone",
    "sender_name",
    "sender_email",
    "hub_base_url",
    "booking_url",
    "sms_enabled",
    "sms_price_minor",
    "sms_currency",
    "book_again_sms_payer",
    "allow_expired_card_registration",
];

const STAFF_PATHS: &[&str] = &["email", "name", "phone", "role", "area_ids"];

fn workspace_patch(w: pb::Workspace, mask: Vec<String>) -> Result<WorkspacePatch, AppError> {
    let paths = app::field_mask::mask_paths(&mask, WORKSPACE_PATHS, &["id", "create_time", "update_time", "etag"])?;
    let mut v = Violations::new();
    let mut p = WorkspacePatch { etag: convert::etag("workspace.etag", &w.etag)?, ..Default::default() };
    for path in &paths {
        match path.as_str() {
            "name" => p.name = Some(w.name.clone()),
            "time_zone" => p.time_zone = Some(w.time_zone.clone()),
            "default_locale" => {
                p.default_locale = Some(convert::locale_in(&mut v, "workspace.default_locale", w.default_locale))
            }
            "default_tone" => p.default_tone = Some(convert::tone_in(&mut v, "workspace.default_tone", w.default_tone)),
            "sender_name" => p.sender_name = Some(w.sender_name.clone()),
            "sender_email" => p.sender_email = Some(w.sender_email.clone()),
            "hub_base_url" => p.hub_base_url = Some(w.hub_base_url.clone()),
            "booking_url" => p.booking_url = Some(w.booking_url.clone()),
            "sms_enabled" => p.sms_enabled = Some(w.sms_enabled),
            "sms_price_minor" => p.sms_price_minor = Some(w.sms_price_minor),
            "sms_currency" => p.sms_currency = Some(w.sms_currency.clone()),
            "book_again_sms_payer" => {
                p.book_again_sms_payer =
                    convert::payer_in(&mut v, "workspace.book_again_sms_payer", w.book_again_sms_payer)
            }
            "allow_expired_card_registration" => {
                p.allow_expired_card_registration = Some(w.allow_expired_card_registration)
            }
            _ => {}
        }
    }
    v.into_result()?;
    Ok(p)
}

fn staff_fields(u: pb::StaffUser, paths: &[String]) -> Result<StaffFields, AppError> {
    let mut v = Violations::new();
    let mut f = StaffFields::default();
    for path in paths {
        match path.as_str() {
            "email" => f.email = Some(u.email.clone()),
            "name" => f.name = Some(u.name.clone()),
            "phone" => f.phone = Some(u.phone.clone()),
            "role" => f.role = Some(convert::role_in(&mut v, "staff_user.role", u.role)),
            "area_ids" => f.area_ids = Some(u.area_ids.clone()),
            _ => {}
        }
    }
    v.into_result()?;
    Ok(f)
}

#[tonic::async_trait]
impl WorkspaceService for WorkspaceApi {
    async fn get_workspace(
        &self,
        req: Request<pb::GetWorkspaceRequest>,
    ) -> Result<Response<pb::GetWorkspaceResponse>, Status> {
        let caller = staff(&req)?;
        let w = app::workspace::get(&self.state, &caller).await?;
        Ok(Response::new(pb::GetWorkspaceResponse { workspace: Some(workspace_out(w)) }))
    }

    async fn update_workspace(
        &self,
        req: Request<pb::UpdateWorkspaceRequest>,
    ) -> Result<Response<pb::UpdateWorkspaceResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let w = r.workspace.ok_or_else(|| AppError::invalid("workspace", "is required"))?;
        let patch = workspace_patch(w, convert::mask(r.update_mask))?;
        let w = app::workspace::update(&self.state, &caller, patch).await?;
        Ok(Response::new(pb::UpdateWorkspaceResponse { workspace: Some(workspace_out(w)) }))
    }

    async fn create_area(
        &self,
        req: Request<pb::CreateAreaRequest>,
    ) -> Result<Response<pb::CreateAreaResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let a = app::workspace::create_area(&self.state, &caller, &r.name, &key).await?;
        Ok(Response::new(pb::CreateAreaResponse { area: Some(area_out(a)) }))
    }

    async fn list_areas(&self, req: Request<pb::ListAreasRequest>) -> Result<Response<pb::ListAreasResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page =
            app::workspace::list_areas(&self.state, &caller, PageRequest::parse(r.page_size, &r.page_token)?).await?;
        Ok(Response::new(pb::ListAreasResponse {
            areas: page.items.into_iter().map(area_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_area(
        &self,
        req: Request<pb::UpdateAreaRequest>,
    ) -> Result<Response<pb::UpdateAreaResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let a = app::workspace::rename_area(&self.state, &caller, &r.area_id, &r.name).await?;
        Ok(Response::new(pb::UpdateAreaResponse { area: Some(area_out(a)) }))
    }

    async fn delete_area(
        &self,
        req: Request<pb::DeleteAreaRequest>,
    ) -> Result<Response<pb::DeleteAreaResponse>, Status> {
        let caller = staff(&req)?;
        app::workspace::delete_area(&self.state, &caller, &req.get_ref().area_id).await?;
        Ok(Response::new(pb::DeleteAreaResponse {}))
    }

    async fn create_staff_user(
        &self,
        req: Request<pb::CreateStaffUserRequest>,
    ) -> Result<Response<pb::CreateStaffUserResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let u = r.staff_user.ok_or_else(|| AppError::invalid("staff_user", "is required"))?;
        let paths: Vec<String> = STAFF_PATHS.iter().map(|s| s.to_string()).collect();
        let fields = staff_fields(u, &paths)?;
        let u = app::staff::create(&self.state, &caller, fields, &key).await?;
        Ok(Response::new(pb::CreateStaffUserResponse { staff_user: Some(staff_out(u)) }))
    }

    async fn get_staff_user(
        &self,
        req: Request<pb::GetStaffUserRequest>,
    ) -> Result<Response<pb::GetStaffUserResponse>, Status> {
        let caller = staff(&req)?;
        let u = app::staff::get(&self.state, &caller, &req.get_ref().staff_user_id).await?;
        Ok(Response::new(pb::GetStaffUserResponse { staff_user: Some(staff_out(u)) }))
    }

    async fn list_staff_users(
        &self,
        req: Request<pb::ListStaffUsersRequest>,
    ) -> Result<Response<pb::ListStaffUsersResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let mut v = Violations::new();
        let role = convert::role_in(&mut v, "role", r.role);
        v.into_result()?;
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::staff::list(&self.state, &caller, role, &r.area_id, page).await?;
        Ok(Response::new(pb::ListStaffUsersResponse {
            staff_users: page.items.into_iter().map(staff_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_staff_user(
        &self,
        req: Request<pb::UpdateStaffUserRequest>,
    ) -> Result<Response<pb::UpdateStaffUserResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let u = r.staff_user.ok_or_else(|| AppError::invalid("staff_user", "is required"))?;
        let paths = app::field_mask::mask_paths(&convert::mask(r.update_mask), STAFF_PATHS, &["id", "etag"])?;
        let etag = convert::etag("staff_user.etag", &u.etag)?;
        let id = u.id.clone();
        let fields = staff_fields(u, &paths)?;
        let u = app::staff::update(&self.state, &caller, &id, fields, etag).await?;
        Ok(Response::new(pb::UpdateStaffUserResponse { staff_user: Some(staff_out(u)) }))
    }

    async fn delete_staff_user(
        &self,
        req: Request<pb::DeleteStaffUserRequest>,
    ) -> Result<Response<pb::DeleteStaffUserResponse>, Status> {
        let caller = staff(&req)?;
        app::staff::delete(&self.state, &caller, &req.get_ref().staff_user_id).await?;
        Ok(Response::new(pb::DeleteStaffUserResponse {}))
    }

    async fn create_api_key(
        &self,
        req: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let (key, secret) = app::staff::create_api_key(&self.state, &caller, &r.staff_user_id, &r.name).await?;
        Ok(Response::new(pb::CreateApiKeyResponse { api_key: Some(api_key_out(key)), secret }))
    }

    async fn list_api_keys(
        &self,
        req: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::staff::list_api_keys(&self.state, &caller, &r.staff_user_id, page).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: page.items.into_iter().map(api_key_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        req: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let caller = staff(&req)?;
        let key = app::staff::revoke_api_key(&self.state, &caller, &req.get_ref().api_key_id).await?;
        Ok(Response::new(pb::RevokeApiKeyResponse { api_key: Some(api_key_out(key)) }))
    }
}
