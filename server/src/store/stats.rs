//! What the statistics read: one folded history per ticket (`ticket_facts`, kept by every append), self-help
//! outcomes, and the departments of the people they are about.

use std::collections::HashMap;

use super::{Read, StoreError};
use crate::desk::stats::{Facts, Parts};

/// A self-help outcome, with the person whose account on that machine it came from, if on record.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfHelpRow {
    pub at: i64,
    pub person: Option<i64>,
    pub shown: Vec<String>,
    pub solved: bool,
}

impl Read<'_> {
    /// The histories of the tickets that may have anything in `[from, to)`: opened before `to`, and changed at or
    /// after `from` or still not resolved (a ticket can be open through a period without an event in it).
    pub fn facts_touching(&self, from: i64, to: i64) -> Result<Vec<Facts>, StoreError> {
        let mut all = Vec::new();
        self.each_facts(from, to, Parts::ALL, |f| all.push(f.clone()))?;
        Ok(all)
    }

    /// Hands `each` the histories [`Read::facts_touching`] reads, in ticket order, one at a time and with only the
    /// `parts` a report reads ([`crate::desk::reports::Report`]): each is decoded into the same value, straight from
    /// the row as SQLite holds it, so a report over 100,000 tickets neither holds them all nor allocates each.
    pub fn each_facts(&self, from: i64, to: i64, parts: Parts, mut each: impl FnMut(&Facts)) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ticket, facts FROM ticket_facts WHERE opened_at < ?2 AND (last_at >= ?1 OR unresolved)
             ORDER BY ticket",
        )?;
        let mut rows = stmt.query([from, to])?;
        let mut facts: Option<Facts> = None;
        while let Some(row) = rows.next()? {
            let number: i64 = row.get(0)?;
            let corrupt = |why: String| StoreError::Corrupt(format!("statistics row of ticket {number}: {why}"));
            let bytes = row.get_ref(1)?.as_blob().map_err(|e| corrupt(e.to_string()))?;
            let decoded = match &mut facts {
                Some(facts) => facts.decode_into(bytes, parts).map(|()| facts),
                None => Facts::decode_parts(bytes, parts).map(|new| facts.insert(new)),
            };
            each(decoded.map_err(corrupt)?);
        }
        Ok(())
    }

    pub fn self_help_between(&self, from: i64, to: i64) -> Result<Vec<SelfHelpRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.at, coalesce(p.merged_into, p.id), s.shown, s.solved FROM self_help s
             LEFT JOIN person_accounts a ON a.agent_id = s.agent_id AND a.local_user = s.user
             LEFT JOIN people p ON p.id = a.person
             WHERE s.at >= ?1 AND s.at < ?2 ORDER BY s.at",
        )?;
        let rows = stmt.query_map([from, to], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?))
        })?;
        rows.map(|row| {
            let (at, person, shown, solved) = row?;
            let shown = serde_json::from_str(&shown)
                .map_err(|e| StoreError::Corrupt(format!("self-help findings at {at}: {e}")))?;
            Ok(SelfHelpRow { at, person, shown, solved })
        })
        .collect()
    }

    /// Each person's department, as on record now; a merged record's under the one that carries on.
    pub fn departments(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, coalesce(q.department, p.department) FROM people p LEFT JOIN people q ON q.id = p.merged_into
             WHERE coalesce(q.department, p.department) IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::desk::actor::Actor;
    use crate::desk::priority::{Level, TicketType};
    use crate::desk::stats::Facts;
    use crate::desk::tickets::{Channel, Event, Status};
    use crate::store::Store;

    /// The rows kept by every append are what a full recomputation from the log gives, for every ticket.
    #[tokio::test]
    async fn the_kept_rows_equal_a_fold_of_each_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let created = |channel| Event::Created {
            subject: "s".into(),
            description: String::new(),
            channel,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            ticket_type: TicketType::Incident,
        };
        let status = |from, to, code: Option<&str>| Event::StatusChanged {
            from,
            to,
            reason: None,
            until: None,
            code: code.map(Into::into),
            first_contact: false,
        };
        let bob = Actor::technician("bob");
        store
            .write(move |c| {
                for i in 0..5i64 {
                    let (n, _) = c.open_ticket(None, &[(bob.clone(), created(Channel::Phone))], 100 * i)?;
                    let steps = [
                        Event::PublicReply { body: "hi".into() },
                        Event::Categorized { category: "printing".into() },
                        status(Status::New, Status::Resolved, Some("fixed-remotely")),
                        status(Status::Resolved, Status::Open, None),
                        Event::Escalated { from_tier: 1, to_tier: 2, reason: None },
                    ];
                    for (j, e) in steps.iter().take(usize::try_from(i).unwrap() + 1).enumerate() {
                        c.append_event(n, None, &bob, e, 100 * i + 10 * j as i64 + 1)?;
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
        let (kept, folded, columns) = store
            .read(|c| {
                let kept = c.facts_touching(0, i64::MAX)?;
                let mut folded = Vec::new();
                for f in &kept {
                    let log = c.ticket_events(f.number)?;
                    folded.push(Facts::fold(f.number, log.iter().map(|e| (e.at, &e.actor, &e.event))).unwrap());
                }
                // The columns a report selects by, and what they stand for.
                let columns: Vec<(i64, i64, bool, i64, i64, bool)> = c
                    .conn
                    .prepare(
                        "SELECT f.opened_at, f.last_at, f.unresolved, t.created_at,
                                (SELECT max(at) FROM ticket_events e WHERE e.ticket = f.ticket),
                                t.status NOT IN ('resolved', 'closed', 'merged')
                         FROM ticket_facts f JOIN tickets t ON t.number = f.ticket ORDER BY f.ticket",
                    )?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                    .collect::<Result<_, _>>()?;
                Ok((kept, folded, columns))
            })
            .await
            .unwrap();
        assert_eq!(kept.len(), 5);
        assert_eq!(kept, folded);
        assert_eq!(kept[4].resolutions[0].reopened_at, Some(431));
        for (opened_at, last_at, unresolved, created_at, last_event, status_unresolved) in columns {
            assert_eq!((opened_at, last_at, unresolved), (created_at, last_event, status_unresolved));
        }
        let unresolved: Vec<bool> = kept.iter().map(Facts::unresolved).collect();
        assert_eq!(unresolved, [true, true, false, true, true], "new, new, resolved, reopened, reopened");
    }
}
