//! What any store must do, said through its typed interface alone (no SQL), so a second backend runs the same
//! checks: each is a function of a fresh, empty store. The SQLite store runs them below.

use lifeline_shared::catalog::Check;
use lifeline_shared::findings::{Category, Finding, FindingKind, Severity};
use lifeline_shared::wire::Snapshot;
use serde_json::json;

use super::agents::SnapshotRow;
use super::checks::NewRun;
use super::mail::NewMail;
use super::tickets::Query;
use super::{Store, StoreError};
use crate::desk::actor::{Actor, ActorKind};
use crate::desk::checks::RunState;
use crate::desk::tickets::{Channel, Event, Status};

fn created(agent: Option<&str>) -> Event {
    Event::Created {
        subject: "printer".into(),
        description: String::new(),
        channel: if agent.is_some() { Channel::Agent } else { Channel::Phone },
        requester: "ann".into(),
        agent_id: agent.map(str::to_owned),
        category: None,
        person: None,
        urgency: Default::default(),
        impact: Default::default(),
        priority: Default::default(),
        ticket_type: Default::default(),
    }
}

async fn with_agent(store: &Store, id: &str) {
    let agents = [(id.to_owned(), format!("fp-{id}"))];
    store.write(move |c| c.insert_simulated_agents(&agents, 1)).await.unwrap();
}

/// A snapshot sent again after a lost acknowledgement is stored once.
pub async fn a_replayed_snapshot_is_stored_once(store: Store) {
    with_agent(&store, "ag-1").await;
    for _ in 0..3 {
        let row = SnapshotRow::new(&Snapshot { id: [4; 16], taken_at_ms: 9, ..Snapshot::default() }, &[]).unwrap();
        store.write(move |c| c.insert_snapshot("ag-1", &row, 10)).await.unwrap();
    }
    assert_eq!(store.read(|c| c.snapshot_count("ag-1")).await.unwrap(), 1);
    let back = store.read(|c| c.snapshot("ag-1", &hex::encode([4; 16]))).await.unwrap();
    assert_eq!((back.id, back.taken_at_ms), ([4; 16], 9));
}

/// A help request replayed (same agent, same request id) finds the ticket it opened.
pub async fn a_replayed_request_opens_one_ticket(store: Store) {
    with_agent(&store, "ag-1").await;
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let opened = store
            .write(|c| c.open_ticket(Some(("ag-1", "req-1")), &[(Actor::requester("ann"), created(Some("ag-1")))], 5))
            .await;
        numbers.push(opened.unwrap());
    }
    assert_eq!(numbers, [(1, true), (1, false)]);
    let other = store
        .write(|c| c.open_ticket(Some(("ag-1", "req-2")), &[(Actor::requester("ann"), created(Some("ag-1")))], 6))
        .await;
    assert_eq!(other.unwrap(), (2, true));
    assert_eq!(store.read(|c| c.tickets(&Query::default())).await.unwrap().tickets.len(), 2);
}

/// An append checks the version it expects and the rules, in its transaction; a refused one stores nothing, and
/// the cached columns always equal the fold of the log.
pub async fn appends_check_the_version_and_the_rules_and_keep_the_projection(store: Store) {
    let (number, _) =
        store.write(|c| c.open_ticket(None, &[(Actor::technician("bob"), created(None))], 1)).await.unwrap();
    let open = Event::StatusChanged {
        from: Status::New,
        to: Status::Open,
        reason: None,
        until: None,
        code: None,
        first_contact: false,
    };
    let ticket =
        store.write(move |c| c.append_event(number, Some(1), &Actor::technician("bob"), &open, 2)).await.unwrap();
    assert_eq!((ticket.version, ticket.state.status), (2, Status::Open));
    let note = Event::InternalNote { body: "late".into() };
    let stale = store.write(move |c| c.append_event(number, Some(1), &Actor::technician("carol"), &note, 3)).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let close = Event::StatusChanged {
        from: Status::Open,
        to: Status::Closed,
        reason: None,
        until: None,
        code: None,
        first_contact: false,
    };
    let refused = store.write(move |c| c.append_event(number, None, &Actor::technician("bob"), &close, 4)).await;
    assert!(matches!(refused, Err(StoreError::Refused(_))), "{refused:?}");
    let (ticket, listed) = store.read(move |c| Ok((c.ticket(number)?, c.tickets(&Query::default())?))).await.unwrap();
    assert_eq!(ticket.version, 2, "nothing refused was stored");
    assert_eq!((listed.tickets[0].status.as_str(), listed.tickets[0].updated_at), ("open", 2));
}

/// A single-use enrollment token enrols once.
pub async fn a_single_use_token_is_spent_once(store: Store) {
    let token = store.write(|c| c.create_enrollment_token("local-admin", 1, 1_000, 1, "test")).await.unwrap();
    let secret = token.secret.clone();
    assert!(store.write(move |c| c.spend_enrollment_token(&secret, 2)).await.is_ok());
    let again = store.write(move |c| c.spend_enrollment_token(&token.secret, 3)).await;
    assert!(matches!(again, Err(StoreError::Refused(_))), "{again:?}");
}

/// A check run ends once: a second report changes nothing.
pub async fn a_check_run_ends_once(store: Store) {
    with_agent(&store, "ag-1").await;
    let check = Check::parse("disk-usage", &[("path".into(), "/".into())]).unwrap();
    let id = store
        .write(move |c| {
            let new = NewRun { agent_id: "ag-1", ticket: None, technician: "bob", check: &check, expires_at: 100 };
            c.insert_run(&new, 1)
        })
        .await
        .unwrap();
    assert!(store.write(move |c| c.mark_run_sent(id, 2)).await.unwrap());
    let first = store.write(move |c| c.finish_run(id, "ag-1", RunState::Done, "ok", Some(5), 3)).await.unwrap();
    assert_eq!(first.map(|r| r.state), Some(RunState::Done));
    let second = store.write(move |c| c.finish_run(id, "ag-1", RunState::Failed, "no", None, 4)).await.unwrap();
    assert_eq!(second, None);
    let run = store.read(move |c| c.run(id)).await.unwrap();
    assert_eq!((run.state, run.result.as_deref()), (RunState::Done, Some("ok")));
    assert!(!store.write(move |c| c.mark_run_sent(id, 5)).await.unwrap(), "an ended run is not sent again");
}

/// The audit chain grows one entry per act, in order, and verifies.
pub async fn the_audit_chain_verifies_across_transactions(store: Store) {
    for i in 0..20 {
        store.write(move |c| c.audit("bob", "test.act", &json!({ "i": i }), i)).await.unwrap();
    }
    let entries = store.read(|c| c.audit_entries(0, 100)).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    let verdict = store.read(|c| c.verify_audit()).await.unwrap();
    assert_eq!((verdict.entries, verdict.broken), (20, None));
}

/// Revoking is once, and only of an agent that exists.
pub async fn revoking_is_once_and_of_a_known_agent(store: Store) {
    with_agent(&store, "ag-1").await;
    store.write(|c| c.revoke_agent("ag-1", "admin", 2)).await.unwrap();
    let again = store.write(|c| c.revoke_agent("ag-1", "admin", 3)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let unknown = store.write(|c| c.revoke_agent("ag-9", "admin", 3)).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
    assert!(store.read(|c| c.agent("ag-1")).await.unwrap().is_some_and(|a| a.revoked_at == Some(2)));
}

/// Findings recorded on a ticket's event, and who did each, come back as they were recorded.
pub async fn recorded_findings_come_back_as_recorded(store: Store) {
    with_agent(&store, "ag-1").await;
    // As judged when the snapshot was stored, whatever today's rules would say of it.
    let findings = vec![Finding {
        kind: FindingKind::DiskNearlyFull,
        severity: Severity::Critical,
        category: Category::Hardware,
        summary: "/home is 97% full".into(),
        advice: "free some space".into(),
        about: "/home".into(),
        figure: Some(97),
    }];
    let attached =
        Event::SnapshotAttached { agent_id: "ag-1".into(), snapshot_id: "s1".into(), findings: findings.clone() };
    let events = [(Actor::requester("ann"), created(Some("ag-1"))), (Actor::agent("ag-1"), attached)];
    let (number, _) = store.write(move |c| c.open_ticket(Some(("ag-1", "r")), &events, 1)).await.unwrap();
    let log = store.read(move |c| c.ticket_events(number)).await.unwrap();
    assert!(matches!(&log[1].event, Event::SnapshotAttached { findings: f, .. } if *f == findings));
    let who: Vec<_> = log.iter().map(|e| (e.actor.kind, e.actor.name.as_str())).collect();
    assert_eq!(who, [(ActorKind::Requester, "ann"), (ActorKind::Agent, "ag-1")], "each event keeps who did it");
}

/// A saved view is its owner's, seen by others only when shared, replaced by name, and removed once; a preference
/// is one value per person.
pub async fn saved_views_and_preferences_belong_to_their_owner(store: Store) {
    let saved = store
        .write(|c| {
            c.save_view("ann", "mine", "status=new", false, 1)?;
            c.save_view("ann", "desk", "tier=2", true, 1)?;
            // The same name again replaces the view, keeping its id.
            c.save_view("ann", "mine", "status=open", false, 2)
        })
        .await
        .unwrap();
    let names = |views: Vec<super::desk::SavedView>| views.into_iter().map(|v| (v.name, v.query)).collect::<Vec<_>>();
    let ann = store.read(|c| c.saved_views("ann")).await.unwrap();
    assert_eq!(ann.iter().find(|v| v.name == "mine").map(|v| v.id), Some(saved.id));
    assert_eq!(names(ann), [("desk".into(), "tier=2".into()), ("mine".into(), "status=open".into())]);
    assert_eq!(names(store.read(|c| c.saved_views("bob")).await.unwrap()), [("desk".into(), "tier=2".into())]);
    let id = saved.id;
    store.write(move |c| c.delete_view(id)).await.unwrap();
    assert!(matches!(store.write(move |c| c.delete_view(id)).await, Err(StoreError::NotFound(_))));

    store.write(|c| c.set_console_pref("ann", "queue.columns", "subject")).await.unwrap();
    store.write(|c| c.set_console_pref("ann", "queue.columns", "subject,status")).await.unwrap();
    assert_eq!(
        store.read(|c| c.console_pref("ann", "queue.columns")).await.unwrap().as_deref(),
        Some("subject,status")
    );
    assert_eq!(store.read(|c| c.console_pref("bob", "queue.columns")).await.unwrap(), None);
}

/// A list of tickets by number has exactly those that exist, merged ones too, as they were asked for by number.
pub async fn a_list_by_numbers_has_exactly_those_tickets_merged_ones_too(store: Store) {
    let mut opened = Vec::new();
    for at in 1..=3 {
        let open = store.write(move |c| c.open_ticket(None, &[(Actor::technician("bob"), created(None))], at)).await;
        opened.push(open.unwrap().0);
    }
    let (first, merged) = (opened[0], opened[2]);
    let into = Event::MergedInto { into: first };
    store.write(move |c| c.append_event(merged, None, &Actor::technician("bob"), &into, 5)).await.unwrap();
    for (asked, expected) in [(vec![first, merged, 99], vec![first, merged]), (vec![opened[1]], vec![opened[1]])] {
        let q = Query { numbers: Some(asked), ..Query::default() };
        let page = store.read(move |c| c.tickets(&q)).await.unwrap();
        let mut listed: Vec<i64> = page.tickets.iter().map(|t| t.number).collect();
        listed.sort();
        assert_eq!(listed, expected);
    }
    assert_eq!(store.read(|c| c.tickets(&Query::default())).await.unwrap().tickets.len(), 2, "merged: left out");
}

/// A file kept with a ticket comes back whole, with its ticket; the ticket lists it without its bytes; an id never
/// given is not found.
pub async fn an_attachment_comes_back_whole_with_its_ticket(store: Store) {
    let (ticket, _) =
        store.write(|c| c.open_ticket(None, &[(Actor::technician("bob"), created(None))], 1)).await.unwrap();
    let data: Vec<u8> = (0..=255).cycle().take(70_000).collect();
    let kept = data.clone();
    store
        .write(move |c| {
            let mail = NewMail {
                direction: "in",
                message_id: Some("m1@example.org"),
                ticket: Some(ticket),
                address: "ann@example.org",
                subject: "logs",
                refs: &[],
                outcome: "follow_up",
            };
            let message = c.record_mail(&mail, 2)?;
            c.add_attachment(ticket, message, "dump.bin", "application/octet-stream", &kept, 3)
        })
        .await
        .unwrap();
    let listed = store.read(move |c| c.attachments(ticket)).await.unwrap();
    let [info] = listed.as_slice() else { panic!("{listed:?}") };
    assert_eq!(
        (info.name.as_str(), info.content_type.as_str(), info.size, info.at),
        ("dump.bin", "application/octet-stream", 70_000, 3)
    );
    let id = info.id;
    let file = store.read(move |c| c.attachment(id)).await.unwrap();
    assert_eq!((file.ticket, &file.info, file.data == data), (ticket, info, true));
    assert!(matches!(store.read(move |c| c.attachment(id + 1)).await, Err(StoreError::NotFound(_))));
}

#[cfg(test)]
mod sqlite {
    use super::*;

    /// A fresh store in a directory that lives as long as the test.
    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("conformance.db")).unwrap();
        (dir, store)
    }

    macro_rules! conformance {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $check() {
                let (_dir, store) = fresh();
                super::$check(store).await;
            }
        )*};
    }

    conformance!(
        a_replayed_snapshot_is_stored_once,
        a_replayed_request_opens_one_ticket,
        appends_check_the_version_and_the_rules_and_keep_the_projection,
        a_single_use_token_is_spent_once,
        a_check_run_ends_once,
        the_audit_chain_verifies_across_transactions,
        revoking_is_once_and_of_a_known_agent,
        recorded_findings_come_back_as_recorded,
        saved_views_and_preferences_belong_to_their_owner,
        a_list_by_numbers_has_exactly_those_tickets_merged_ones_too,
        an_attachment_comes_back_whole_with_its_ticket,
    );
}
