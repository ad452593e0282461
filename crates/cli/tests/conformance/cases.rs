//! The cases: one per CLI (launch, task, slow stream, model error, approval, MCP tools, exit)
//! and the cross-CLI team. Each step drives cao through its HTTP API (and its MCP endpoint
//! where an agent would), and checks cao's state, the panes and the model's request log.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::install::AgentCli;
use crate::report::{Report, Step};
use crate::world::{alive, process_tree, Outcome, ScreenWatch, World};

/// The scripted multi-line, Unicode reply `output?mode=last` must return exactly.
pub const REPLY_MULTI: &str =
    "Conformance reply, first line.\nZweite Zeile: ünïcödé ✓ and 日本語\nThird line ends here.";
/// aider renders replies as Markdown, where lines need a blank line between them to stay
/// apart: its multi-line reply is three paragraphs.
pub const REPLY_PARAGRAPHS: &str =
    "Conformance reply, first line.\n\nZweite Zeile: ünïcödé ✓ and 日本語\n\nThird line ends here.";

fn multi_line_reply(cli: &AgentCli) -> &'static str {
    if cli.name == "aider" {
        REPLY_PARAGRAPHS
    } else {
        REPLY_MULTI
    }
}

/// The slowly streamed reply.
pub const REPLY_SLOW: &str =
    "This reply streams in small pieces, slowly, so the agent stays busy until the end.";
const FAILURE_TEXT: &str = "mock model refuses: conformance error case";
const SENT_TEXT: &str = "conformance hello ✓";

const LAUNCH_LIMIT: Duration = Duration::from_secs(60);
const TURN_LIMIT: Duration = Duration::from_secs(90);

/// How a CLI is brought to ask for approval and how the question is answered.
struct Approval {
    /// The tool the model calls (substring of its name) and the arguments.
    tool: &'static str,
    args: Value,
    /// Text of the model's reply instead of a tool call (aider edits files from text).
    reply: Option<&'static str>,
    /// What `answer_user_prompt` types.
    answer: &'static str,
    /// Extra pane environment.
    env: Value,
    /// The file in the work directory that exists once the approved action ran.
    creates: Option<&'static str>,
}

fn approval(cli: &AgentCli, receiver: &str) -> Approval {
    // A command with an effect: CLIs run read-only ones such as `echo` without asking.
    let shell = json!({ "command": "touch approved-by-cao.txt", "description": "create a file" });
    let base = Approval {
        tool: "",
        args: json!({}),
        reply: None,
        answer: "1",
        env: json!({}),
        creates: Some("approved-by-cao.txt"),
    };
    match cli.name {
        "claude" => Approval {
            tool: "Bash",
            args: shell,
            ..base
        },
        "codex" => Approval {
            tool: "send_message",
            args: json!({ "receiver_id": receiver, "message": "approved message ✓" }),
            creates: None,
            ..base
        },
        "gemini" | "qwen" => Approval {
            tool: "run_shell_command",
            args: shell,
            ..base
        },
        "opencode" => Approval {
            tool: "bash",
            args: shell,
            env: json!({ "OPENCODE_PERMISSION": "{\"*\":\"ask\"}" }),
            ..base
        },
        _ => Approval {
            reply: Some("Here is the file.\n\napproved.txt\n```\napproved by cao\n```\n"),
            answer: "y",
            creates: Some("approved.txt"),
            ..base
        },
    }
}

/// The model script of one CLI's case.
fn script(cli: &AgentCli, receiver: &str) -> String {
    let ask = approval(cli, receiver);
    let mut text = format!(
        r#"model = "mock-model"
default_reply = "Noted: {{first_line}}"

[[rules]]
name = "multi"
match = "REPLY-MULTI"
reply = {multi}

[[rules]]
name = "slow"
match = "REPLY-SLOW"
reply = {slow}
chunk_delay_ms = 150
chunk_chars = 4

[[rules]]
name = "fail"
match = "REPLY-FAIL"
error = {{ status = 400, message = {failure} }}

[[rules]]
name = "send"
match = "CALL-SEND"
reply = "Message sent."
[[rules.calls]]
tool = "send_message"
args = {{ receiver_id = "{receiver}", message = {sent} }}

[[rules]]
name = "handoff"
match = "CALL-HANDOFF"
reply = "Handoff finished."
[[rules.calls]]
tool = "handoff"
args = {{ agent_profile = "conformance_worker", message = "HANDOFF-TASK from {name}" }}
"#,
        multi = toml_string(multi_line_reply(cli)),
        slow = toml_string(REPLY_SLOW),
        failure = toml_string(FAILURE_TEXT),
        sent = toml_string(SENT_TEXT),
        name = cli.name,
    );
    match ask.reply {
        Some(reply) => text.push_str(&format!(
            "\n[[rules]]\nname = \"ask\"\nmatch = \"CALL-ASK\"\nreply = {}\n",
            toml_string(reply)
        )),
        None => text.push_str(&format!(
            "\n[[rules]]\nname = \"ask\"\nmatch = \"CALL-ASK\"\nreply = \"Approved and done.\"\n\
             [[rules.calls]]\ntool = \"{}\"\nargs = {}\n",
            ask.tool,
            toml_inline(&ask.args)
        )),
    }
    text
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn toml_inline(value: &Value) -> String {
    let table: toml::Value = serde_json::from_value(value.clone()).unwrap();
    table.to_string().replace('\n', "")
}

/// Sends a task and waits for `processing` then a finished turn; returns the moment of
/// `completed` and the delay since the pane last changed before it.
async fn turn(world: &World, id: &str, target: &str, text: &str) -> Outcome<(Instant, Duration)> {
    let from = world.mark();
    let watch = ScreenWatch::start(&world.socket, target);
    let sent = Instant::now();
    world
        .post(
            &format!("/terminals/{id}/input"),
            json!({ "message": text }),
        )
        .await?;
    world
        .wait_status(id, from, &["processing"], Duration::from_secs(15))
        .await?;
    let done = world
        .wait_status(
            id,
            from,
            &["completed", "error", "waiting_user_answer"],
            TURN_LIMIT,
        )
        .await?;
    let status = done.event["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let statuses: Vec<String> = world
        .events_since(from)
        .iter()
        .filter(|seen| seen.event["terminal_id"] == id && seen.event["type"] == "status")
        .map(|seen| {
            let status = seen.event["status"].as_str().unwrap_or_default();
            format!("{status} +{}ms", seen.at.duration_since(sent).as_millis())
        })
        .collect();
    eprintln!("  {id} {text:?}: {}", statuses.join(", "));
    let label: String = text
        .chars()
        .take_while(|c| *c != ':')
        .collect::<String>()
        .to_lowercase();
    let keep = world
        .root
        .path()
        .join("screens")
        .join(format!("{id}-{label}"));
    let finished = watch.last_change_before(done.at, &keep).unwrap_or(done.at);
    if status != "completed" {
        return Err(format!("the turn ended '{status}', not completed"));
    }
    Ok((done.at, done.at.saturating_duration_since(finished)))
}

/// One CLI's case.
pub async fn run_cli(cli: &AgentCli, report: &mut Report) -> Outcome {
    let mut world = World::start(cli.name).await?;
    let session = format!("conf-{}", cli.name);
    world.profile(
        "conformance_worker",
        "provider: mock\n",
        "You are a worker in a conformance test.",
    );
    world.profile(
        "conformance_asker",
        "permissionMode: default\n",
        "You are an agent that asks before acting.",
    );
    world.profile(
        "conformance_agent",
        "",
        "You are an agent in a conformance test. Answer briefly.",
    );

    // A mock agent in the session receives the CLI's send_message.
    let receiver = world
        .post(
            "/sessions",
            json!({
                "agent_profile": "conformance_worker",
                "provider": "mock",
                "session_name": session,
                "working_directory": world.work,
            }),
        )
        .await?;
    let receiver = receiver["id"].as_str().unwrap_or_default().to_string();
    world.start_model(&script(cli, &receiver)).await?;

    // Launch → idle.
    let step = report.step("launch → idle");
    let from = world.mark();
    let started = Instant::now();
    let terminal = world
        .post(
            &format!("/sessions/{session}/terminals"),
            json!({
                "agent_profile": "conformance_agent",
                "provider": cli.provider,
                "working_directory": world.work,
            }),
        )
        .await?;
    let id = terminal["id"].as_str().unwrap_or_default().to_string();
    let target = world.target(&id).await?;
    let idle = match terminal["status"].as_str() {
        Some("idle") => Ok(Instant::now()),
        _ => match world
            .wait_status(&id, from, &["idle", "error"], LAUNCH_LIMIT)
            .await
        {
            Ok(seen) if seen.event["status"] == "idle" && cli.prompt_as_first_message => {
                // The system prompt goes in as the first message: ready once it is answered.
                world
                    .wait_status(&id, from, &["completed"], LAUNCH_LIMIT)
                    .await
                    .map(|seen| seen.at)
            }
            Ok(seen) if seen.event["status"] == "idle" => Ok(seen.at),
            Ok(_) => Err("the terminal went to 'error' while starting".to_string()),
            Err(error) => Err(error),
        },
    };
    let idle = finish_step(report, step, &world, &target, idle)?;
    report.launch_ms = Some(idle.duration_since(started).as_millis());

    // A task: processing → completed, and the exact reply.
    let step = report.step("task → completed, exact output?mode=last");
    let result = async {
        let (_, delay) = turn(&world, &id, &target, "REPLY-MULTI: answer with three lines").await?;
        report.completion_delays.push(delay);
        let output = world.last_output(&id).await?;
        let expected = multi_line_reply(cli);
        if output != expected {
            return Err(format!(
                "output?mode=last is {output:?}, expected {expected:?}"
            ));
        }
        Ok(())
    }
    .await;
    finish_step(report, step, &world, &target, result)?;

    // A slow stream stays processing until its last byte.
    let step = report.step("slow stream stays processing");
    let result = async {
        let from = world.mark();
        let sent_at = std::time::SystemTime::now();
        let (completed_at, delay) =
            turn(&world, &id, &target, "REPLY-SLOW: take your time").await?;
        report.completion_delays.push(delay);
        let streamed = world
            .model_requests()
            .into_iter()
            .filter(|line| line["rule"] == "slow" && line["action"] == "reply")
            .filter_map(|line| line["finished_ms"].as_u64())
            .filter(|finished| *finished as u128 >= epoch_ms(sent_at))
            .max()
            .ok_or("the model log has no finished slow reply")?;
        for seen in world.events_since(from) {
            let early = seen.event["terminal_id"] == id.as_str()
                && seen.event["type"] == "status"
                && ["idle", "completed"]
                    .iter()
                    .any(|s| seen.event["status"] == *s)
                && seen.at < completed_at
                && (seen.wall_ms as u64) < streamed;
            if early {
                return Err(format!(
                    "status {} came {} ms before the stream ended",
                    seen.event["status"],
                    streamed - seen.wall_ms as u64
                ));
            }
        }
        let output = world.last_output(&id).await?;
        if output != REPLY_SLOW {
            return Err(format!(
                "output?mode=last is {output:?}, expected {REPLY_SLOW:?}"
            ));
        }
        Ok(())
    }
    .await;
    finish_step(report, step, &world, &target, result)?;

    if cli.mcp {
        // send_message through cao's MCP server reaches the receiver's pane.
        let step = report.step("MCP send_message reaches the receiver");
        let result = async {
            let (_, delay) = turn(&world, &id, &target, "CALL-SEND: tell the receiver").await?;
            report.completion_delays.push(delay);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let inbox = world
                    .get(&format!("/terminals/{receiver}/inbox/messages"))
                    .await?;
                let delivered = inbox.as_array().into_iter().flatten().any(|message| {
                    message["sender_id"] == id.as_str()
                        && message["body"] == SENT_TEXT
                        && message["status"] == "delivered"
                });
                let read = world.agent_lines().iter().any(|line| {
                    line["terminal_id"] == receiver.as_str()
                        && line["input"].as_str().is_some_and(|input| input.ends_with(SENT_TEXT))
                });
                if delivered && read {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "the receiver has not read the message (delivered: {delivered}, in its pane: {read}); inbox: {inbox}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        .await;
        finish_step(report, step, &world, &target, result)?;

        // handoff through cao's MCP server: a mock worker answers, the CLI gets its reply.
        let step = report.step("MCP handoff returns the worker's answer");
        let result = async {
            let (_, delay) = turn(&world, &id, &target, "CALL-HANDOFF: delegate this").await?;
            report.completion_delays.push(delay);
            let jobs = world.get("/handoff-results").await?;
            let expected = format!("echo: HANDOFF-TASK from {}", cli.name);
            let done = jobs.as_array().into_iter().flatten().any(|job| {
                job["caller_id"] == id.as_str()
                    && job["status"] == "completed"
                    && job["result"]
                        .as_str()
                        .is_some_and(|output| output.contains(&expected))
            });
            if !done {
                return Err(format!("no completed handoff with {expected:?}: {jobs}"));
            }
            let answered = world
                .model_requests()
                .iter()
                .any(|line| line["rule"] == "handoff" && line["action"] == "reply");
            if !answered {
                return Err("the CLI never sent the handoff's result back to the model".into());
            }
            Ok(())
        }
        .await;
        finish_step(report, step, &world, &target, result)?;
    }

    // A model error surfaces, not a hang.
    let step = report.step("model error → error or a clear message");
    let result = async {
        let from = world.mark();
        world
            .post(&format!("/terminals/{id}/input"), json!({ "message": "REPLY-FAIL: this will fail" }))
            .await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = world.status(&id).await?;
            let screen = world.screen(&target);
            let shown = screen.contains("mock model refuses");
            if status == "error" || (shown && matches!(status.as_str(), "idle" | "completed")) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let statuses: Vec<String> = world
                    .events_since(from)
                    .iter()
                    .filter(|seen| seen.event["terminal_id"] == id.as_str())
                    .map(|seen| seen.event["status"].to_string())
                    .collect();
                return Err(format!(
                    "after 60 s the status is '{status}' (seen {statuses:?}), error text on screen: {shown}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    .await;
    finish_step(report, step, &world, &target, result)?;

    // Exit and delete leave no process behind.
    let step = report.step("delete leaves no process");
    let result = leaves_no_process(&world, &format!("/terminals/{id}"), &target).await;
    finish_step(report, step, &world, &target, result)?;

    // An approval prompt → waiting_user_answer → answer_user_prompt.
    let step = report.step("approval → waiting_user_answer → answer_user_prompt");
    let ask = approval(cli, &receiver);
    let from = world.mark();
    let asker = world
        .post(
            &format!("/sessions/{session}/terminals"),
            json!({
                "agent_profile": "conformance_asker",
                "provider": cli.provider,
                "env_vars": ask.env,
                "working_directory": world.work,
            }),
        )
        .await?;
    let asker = asker["id"].as_str().unwrap_or_default().to_string();
    let asker_target = world.target(&asker).await?;
    let result = async {
        let ready = if cli.prompt_as_first_message {
            "completed"
        } else {
            "idle"
        };
        if world.status(&asker).await? != ready {
            world
                .wait_status(&asker, from, &[ready], LAUNCH_LIMIT)
                .await?;
        }

        let from = world.mark();
        world
            .post(
                &format!("/terminals/{asker}/input"),
                json!({ "message": "CALL-ASK: do the thing" }),
            )
            .await?;
        world
            .wait_status(&asker, from, &["waiting_user_answer"], TURN_LIMIT)
            .await?;
        let from = world.mark();
        world
            .mcp_call(
                &asker,
                "answer_user_prompt",
                json!({ "terminal_id": asker, "answer": ask.answer }),
            )
            .await?;
        world
            .wait_status(&asker, from, &["completed"], TURN_LIMIT)
            .await?;
        let asked = world
            .model_requests()
            .iter()
            .any(|line| line["rule"] == "ask" && line["action"] == "reply");
        if !asked {
            return Err("the model never got the answer's outcome".into());
        }
        if let Some(file) = ask.creates {
            if !world.work.join(file).exists() {
                return Err(format!(
                    "the approved action did not run: no {file} in the work directory"
                ));
            }
        }
        Ok(())
    }
    .await;
    finish_step(report, step, &world, &asker_target, result)?;
    let _ = world.delete(&format!("/sessions/{session}")).await;
    Ok(())
}

fn epoch_ms(at: std::time::SystemTime) -> u128 {
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// Deletes through `path` and checks that every process of the pane is gone.
async fn leaves_no_process(world: &World, path: &str, target: &str) -> Outcome {
    let pid = world
        .pane_pid(target)
        .ok_or_else(|| format!("no pane {target}"))?;
    let tree = process_tree(pid);
    world.delete(path).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<u32> = tree.iter().copied().filter(|pid| alive(*pid)).collect();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let names: Vec<String> = left
                .iter()
                .map(|pid| {
                    let name =
                        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    format!("{pid} {}", name.trim())
                })
                .collect();
            return Err(format!(
                "10 s after delete these are still running: {names:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ends a step in the report; a failure carries the pane's screen.
fn finish_step<T>(
    report: &mut Report,
    step: Step,
    world: &World,
    target: &str,
    outcome: Outcome<T>,
) -> Outcome<T> {
    report.finish(
        step,
        outcome.map_err(|error| diagnose(world, target, error)),
    )
}

/// An error with the pane's screen, for the report.
fn diagnose(world: &World, target: &str, error: String) -> String {
    let screen = world.screen(target);
    let _ = std::fs::write(
        world
            .root
            .path()
            .join(format!("failed-{}.txt", target.replace(':', "_"))),
        &screen,
    );
    let tail: Vec<&str> = screen
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let start = tail.len().saturating_sub(25);
    format!(
        "{error}\n--- screen of {target} ---\n{}",
        tail[start..].join("\n")
    )
}

/// The cross-CLI team: a Claude Code supervisor hands off to a Codex worker and assigns a
/// Gemini worker, whose result comes back by send_message.
pub async fn run_team(report: &mut Report) -> Outcome {
    let mut world = World::start("team").await?;
    world.profile(
        "team_lead",
        "provider: claude_code\nallowedTools: [\"*\"]\n",
        "You lead a team in a conformance test.",
    );
    world.profile(
        "team_codex",
        "provider: codex\n",
        "You build what you are asked to.",
    );
    world.profile(
        "team_gemini",
        "provider: gemini_cli\n",
        "You review what you are asked to.",
    );
    world
        .start_model(
            r#"model = "mock-model"
default_reply = "Noted: {first_line}"

[[rules]]
name = "lead"
match = "TEAM-GO"
reply = "Lead: the parser is built and under review."
[[rules.calls]]
tool = "handoff"
args = { agent_profile = "team_codex", message = "TEAM-BUILD the parser" }
[[rules.calls]]
tool = "assign"
args = { agent_profile = "team_gemini", message = "TEAM-REVIEW the parser" }

[[rules]]
name = "build"
match = "TEAM-BUILD"
reply = "Codex built the parser ✓"

[[rules]]
name = "review"
match = "TEAM-REVIEW"
reply = "Review sent."
[[rules.calls]]
tool = "send_message"
args = { message = "Gemini review: parser approved ✓" }

[[rules]]
name = "final"
match = "[message from team_gemini"
reply = "Lead final: {rest}"
"#,
        )
        .await?;

    let step = report.step("team: lead launches");
    let from = world.mark();
    let started = Instant::now();
    let lead = world
        .post(
            "/sessions",
            json!({
                "agent_profile": "team_lead",
                "session_name": "conf-team",
                "working_directory": world.work,
            }),
        )
        .await?;
    let lead = lead["id"].as_str().unwrap_or_default().to_string();
    let target = world.target(&lead).await?;
    let idle = world
        .wait_status(&lead, from, &["idle"], LAUNCH_LIMIT)
        .await;
    let idle = finish_step(report, step, &world, &target, idle)?;
    report.launch_ms = Some(idle.at.duration_since(started).as_millis());

    let step = report.step("team: handoff to Codex, assign to Gemini, send_message back");
    let result = async {
        world
            .post(
                &format!("/terminals/{lead}/input"),
                json!({ "message": "TEAM-GO: build and review the parser" }),
            )
            .await?;
        let expected = "Lead final: Gemini review: parser approved ✓";
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if world.status(&lead).await? == "completed" {
                let last = world.last_output(&lead).await?;
                if last == expected {
                    break;
                }
                // Gemini's message came and the lead answered it: a wrong answer will not
                // change (read again after the status, so it is not one still streaming).
                if last.starts_with("Lead final: ") && world.status(&lead).await? == "completed" {
                    return Err(format!(
                        "the lead's last reply is {last:?}, expected {expected:?}"
                    ));
                }
            }
            // The lead's model turn could not call cao's tools: say so now, not at the deadline.
            let missing = world.model_requests().into_iter().find(|line| {
                line["rule"] == "lead"
                    && line["note"]
                        .as_str()
                        .is_some_and(|note| note.starts_with("tool not offered"))
            });
            if let Some(line) = missing {
                return Err(format!(
                    "the lead's model request came without cao's tools ({})",
                    line["note"]
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the lead's last reply is {:?}, expected {expected:?}",
                    world.last_output(&lead).await.unwrap_or_default()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let jobs = world.get("/handoff-results").await?;
        let built = jobs.as_array().into_iter().flatten().any(|job| {
            job["caller_id"] == lead.as_str()
                && job["status"] == "completed"
                && job["result"]
                    .as_str()
                    .is_some_and(|output| output.contains("Codex built the parser ✓"))
        });
        if !built {
            return Err(format!(
                "no completed handoff from the lead with Codex's answer: {jobs}"
            ));
        }
        let inbox = world
            .get(&format!("/terminals/{lead}/inbox/messages"))
            .await?;
        let reviewed = inbox.as_array().into_iter().flatten().any(|message| {
            message["body"] == "Gemini review: parser approved ✓"
                && message["status"] == "delivered"
        });
        if !reviewed {
            return Err(format!(
                "Gemini's review is not in the lead's inbox as delivered: {inbox}"
            ));
        }
        let session = world.get("/sessions/conf-team").await?;
        let providers: Vec<String> = session["terminals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|terminal| {
                terminal["provider"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        if !providers.iter().any(|provider| provider == "gemini_cli") {
            return Err(format!(
                "the Gemini worker is not in the session: {providers:?}"
            ));
        }
        Ok(())
    }
    .await;
    let result = match result {
        Ok(()) => Ok(()),
        Err(error) => {
            let mut text = diagnose(&world, &target, error);
            if let Ok(session) = world.get("/sessions/conf-team").await {
                for terminal in session["terminals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .skip(1)
                {
                    let name = terminal["name"].as_str().unwrap_or_default();
                    text = diagnose(&world, &format!("conf-team:{name}"), text);
                }
            }
            Err(text)
        }
    };
    report.finish(step, result)?;

    let step = report.step("team: deleting the session leaves no process");
    let result = async {
        let session = world.get("/sessions/conf-team").await?;
        let mut trees = Vec::new();
        for terminal in session["terminals"].as_array().into_iter().flatten() {
            let target = format!(
                "conf-team:{}",
                terminal["name"].as_str().unwrap_or_default()
            );
            if let Some(pid) = world.pane_pid(&target) {
                trees.extend(process_tree(pid));
            }
        }
        world.delete("/sessions/conf-team").await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while trees.iter().any(|pid| alive(*pid)) {
            if Instant::now() > deadline {
                return Err("processes of the team outlived the session".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
    .await;
    report.finish(step, result)?;
    Ok(())
}
