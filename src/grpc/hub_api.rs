use super::{
    caller::hub,
    convert::{self, ts},
    notification_convert::{self as nc, Item, stream_item},
    pb::{self, hub_service_server::HubService},
    timesheet_convert::hub_time_entry_out,
};
use crate::{
    app::{
        self, AppState,
        hub_auth::{HubProfile, HubSession},
    },
    domain::{inbox::SubscriptionSource, page::PageRequest},
};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use tonic::{Request, Response, Status};

type HubStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

pub struct HubApi {
    state: AppState,
}

impl HubApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn profile_out(p: HubProfile) -> pb::HubProfile {
    pb::HubProfile {
        contact_id: p.contact.id.to_string(),
        customer_id: p.customer.id.to_string(),
        customer_name: p.customer.display_name,
        first_name: p.contact.first_name,
        last_name: p.contact.last_name,
        email: p.contact.email,
        locale: convert::locale_out(Some(p.locale)),
        modules: convert::modules_out(&p.modules),
        subscribed: p.contact.subscribed,
    }
}

fn session_parts(s: HubSession) -> (String, Option<prost_types::Timestamp>, Option<pb::HubProfile>) {
    (s.token, Some(ts(s.expires_at)), Some(profile_out(s.profile)))
}

#[tonic::async_trait]
impl HubService for HubApi {
    async fn activate_account(
        &self,
        req: Request<pb::ActivateAccountRequest>,
    ) -> Result<Response<pb::ActivateAccountResponse>, Status> {
        let r = req.into_inner();
        let s = app::hub_auth::activate(&self.state, &r.token, &r.password).await?;
        let (session_token, expire_time, profile) = session_parts(s);
        Ok(Response::new(pb::ActivateAccountResponse { session_token, expire_time, profile }))
    }

    async fn login(&self, req: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let r = req.into_inner();
        let s = app::hub_auth::login(&self.state, &r.workspace_id, &r.email, &r.password, &r.customer_id).await?;
        let (session_token, expire_time, profile) = session_parts(s);
        Ok(Response::new(pb::LoginResponse { session_token, expire_time, profile }))
    }

    async fn logout(&self, req: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = hub(&req)?;
        app::hub_auth::logout(&self.state, &caller).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_profile(
        &self,
        req: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let caller = hub(&req)?;
        let p = app::hub_auth::get_profile(&self.state, &caller).await?;
        Ok(Response::new(pb::GetProfileResponse { profile: Some(profile_out(p)) }))
    }

    async fn list_messages(
        &self,
        req: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let caller = hub(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let p = app::inbox::list(&self.state, &caller.contact_id, r.unread_only, page).await?;
        Ok(Response::new(pb::ListMessagesResponse {
            messages: p.page.items.into_iter().map(nc::inbox_out).collect(),
            next_page_token: p.page.next_page_token,
            unread_count: p.unread,
        }))
    }

    async fn mark_messages_read(
        &self,
        req: Request<pb::MarkMessagesReadRequest>,
    ) -> Result<Response<pb::MarkMessagesReadResponse>, Status> {
        let caller = hub(&req)?;
        let r = req.into_inner();
        let unread = app::inbox::mark_read(&self.state, &caller.contact_id, &r.message_ids, r.all).await?;
        Ok(Response::new(pb::MarkMessagesReadResponse { unread_count: unread }))
    }

    type SubscribeStream = HubStream;

    async fn subscribe(&self, req: Request<pb::SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = hub(&req)?;
        let owner = crate::live::stream::StreamOwner::HubSession { token_hash: caller.token_hash.clone() };
        let stream =
            app::inbox::subscribe(&self.state, owner, &caller.contact_id, req.get_ref().after_sequence).await?;
        let out = stream.map(|r| {
            stream_item(r).map(|item| pb::SubscribeResponse {
                event: Some(match item {
                    Item::Message(m) => pb::subscribe_response::Event::Message(m),
                    Item::Heartbeat(h) => pb::subscribe_response::Event::Heartbeat(h),
                }),
            })
        });
        Ok(Response::new(Box::pin(out)))
    }

    async fn unsubscribe(
        &self,
        req: Request<pb::UnsubscribeRequest>,
    ) -> Result<Response<pb::UnsubscribeResponse>, Status> {
        let r = req.into_inner();
        let email =
            app::subscription::unsubscribe_with_token(&self.state, &r.token, SubscriptionSource::Link, &r.shown_text)
                .await?;
        Ok(Response::new(pb::UnsubscribeResponse { email }))
    }

    async fn set_email_subscription(
        &self,
        req: Request<pb::SetEmailSubscriptionRequest>,
    ) -> Result<Response<pb::SetEmailSubscriptionResponse>, Status> {
        let caller = hub(&req)?;
        let r = req.into_inner();
        app::subscription::set_by_profile(&self.state, &caller, r.subscribed, &r.shown_text).await?;
        let p = app::hub_auth::get_profile(&self.state, &caller).await?;
        Ok(Response::new(pb::SetEmailSubscriptionResponse { profile: Some(profile_out(p)) }))
    }

    async fn list_hub_punch_cards(
        &self,
        req: Request<pb::ListHubPunchCardsRequest>,
    ) -> Result<Response<pb::ListHubPunchCardsResponse>, Status> {
        let caller = hub(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::punch_cards::hub_list(&self.state, &caller, page).await?;
        let today = app::punch_cards::today(&self.state, &caller.workspace_id).await?;
        Ok(Response::new(pb::ListHubPunchCardsResponse {
            punch_cards: page.items.into_iter().map(|c| hub_card_out(c, today)).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_hub_registrations(
        &self,
        req: Request<pb::ListHubRegistrationsRequest>,
    ) -> Result<Response<pb::ListHubRegistrationsResponse>, Status> {
        let caller = hub(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::punch_cards::hub_registrations(&self.state, &caller, &r.punch_card_id, page).await?;
        Ok(Response::new(pb::ListHubRegistrationsResponse {
            registrations: page.items.into_iter().map(hub_registration_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_time_entries(
        &self,
        req: Request<pb::HubServiceListTimeEntriesRequest>,
    ) -> Result<Response<pb::HubServiceListTimeEntriesResponse>, Status> {
        let caller = hub(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::timesheets::list_for_hub(&self.state, &caller, &r.from, &r.to, page).await?;
        Ok(Response::new(pb::HubServiceListTimeEntriesResponse {
            time_entries: page.items.into_iter().map(hub_time_entry_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

/// A card as its customer sees it: without which staff user created it,
/// as the HUB's time entries leave out who recorded them.
fn hub_card_out(c: crate::domain::punch_card::PunchCard, today: chrono::NaiveDate) -> pb::PunchCard {
    pb::PunchCard { created_by_staff_user_id: String::new(), ..super::punch_card_api::card_out(c, today) }
}

/// A registration as its customer sees it: without the staff user's id.
fn hub_registration_out(r: crate::domain::punch_card::Registration) -> pb::Registration {
    pb::Registration { registered_by_staff_user_id: String::new(), ..super::punch_card_api::registration_out(r) }
}
