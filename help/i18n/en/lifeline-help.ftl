# Lifeline's desktop program. Every file in help/i18n has exactly these ids (a test checks).

app-title = Lifeline help
tab-help = Request help
tab-tickets = My tickets
tab-consent = Consent
close = Close
refresh = Refresh
loading = Loading…

advice-title = What Lifeline sees on this computer
advice-looking = Looking at your computer…
advice-skip = Skip and describe the problem
advice-continue = Continue
advice-none = Nothing looks wrong on this computer right now.
advice-unavailable = Lifeline cannot look at this computer right now. You can still describe the problem.
advice-question = Did this solve your problem?
advice-not-solved = No, I still need help
advice-solved = Yes, it is solved

form-title = Describe the problem
form-subject = Subject
form-description = What happened? (optional)
form-too-long = { $bytes } of at most { $max } bytes: please shorten the description.
form-send = Send
form-sending = Sending…
form-send-hint = Ctrl+Enter sends.

solved-title = Glad it is solved
solved-body = Nothing was sent to the help desk. If the problem comes back, open Request help again.
solved-still-need-help = I still need help

sent-accepted = Your request is ticket #{ $ticket }
sent-next = A technician will look at it. You get a notification when they answer, and you can follow it under My tickets. While the ticket is open, technicians working on it may run approved checks on this computer; Consent shows how long, and lets you stop it.
sent-queued-title = Your request is saved on this computer
sent-queued = The help desk cannot be reached right now. Your request is kept and sent, with what Lifeline sees on this computer, as soon as the connection is back. It then appears under My tickets.
sent-show-tickets = Show my tickets
sent-another = Ask for something else

tickets-title = My tickets
tickets-none = You have no tickets.
tickets-open = Open ticket #{ $ticket }

ticket-back = Back to my tickets
ticket-title = Ticket #{ $ticket }: { $subject }
ticket-status = Status: { $status }
ticket-closed = This ticket is closed. If the problem is back, request help again.
ticket-reopen-hint = This ticket is resolved. Answering reopens it.
ticket-answer = Your answer
ticket-send-answer = Send answer
ticket-solved = It is solved
ticket-no-entries = No replies yet.
ticket-you = You
ticket-status-changed = Status changed to { $status }

ago-now = just now
ago-minutes = { $n ->
    [one] { $n } minute ago
   *[other] { $n } minutes ago
}
ago-hours = { $n ->
    [one] { $n } hour ago
   *[other] { $n } hours ago
}
ago-days = { $n ->
    [one] { $n } day ago
   *[other] { $n } days ago
}

consent-title = Who may run checks here
consent-explain = While a window is open, technicians working on that ticket may run approved checks on this computer. You get a notification for every check.
consent-unattended = This computer's policy lets technicians run read-only checks at any time, without a window.
consent-none = No window is open: nobody may run checks for a ticket now.
consent-window = Ticket #{ $ticket }
consent-left = { $minutes ->
    [one] { $minutes } minute left
   *[other] { $minutes } minutes left
}
consent-extend-ticket = Extend ticket #{ $ticket } by { $minutes } minutes
consent-revoke-ticket = Revoke for ticket #{ $ticket }
consent-extend = Extend by { $minutes } minutes
consent-revoke = Revoke

error-agent-down = Lifeline is not running on this computer, so nothing could be sent. What you typed is kept: try again in a moment, or call the help desk.
error-agent-untrusted = The Lifeline connection on this computer is not set up safely, so nothing was sent. Please call the help desk.
error-agent-slow = Lifeline did not answer in time. What you typed is kept: try again.
error-agent-broken = Lifeline gave an answer this program cannot read. What you typed is kept: try again, or call the help desk.
error-agent-said = Lifeline says: { $message }
error-subject-missing = Please give a subject: a few words about the problem.
error-subject-long = The subject is { $bytes } bytes long; at most { $max } fit. Please shorten it.
error-description-long = The description is { $bytes } bytes long; at most { $max } fit. Please shorten it.
error-reply-missing = Please write your answer first.
error-reply-long = The answer is { $bytes } bytes long; at most { $max } fit. Please shorten it.

msg-reply-sent = Your answer was sent.
msg-reply-queued = Your answer is saved and goes out as soon as the help desk can be reached.
msg-solved-sent = Thank you: the help desk knows it is solved.
msg-solved-queued = Thank you: this goes to the help desk as soon as it can be reached.
msg-revoked = Technicians may no longer run checks for ticket #{ $ticket }.
msg-extended = Technicians may run checks for ticket #{ $ticket } for longer.

status-new = New
status-open = Open
status-pending-user = Waiting for you
status-resolved = Resolved
status-closed = Closed

notify-reply = New reply on ticket #{ $ticket }
notify-status = Ticket #{ $ticket } changed
notify-check = A technician ran “{ $check }” for ticket #{ $ticket }
notify-check-no-ticket = A technician ran “{ $check }” on this computer
notify-consent-opened = Technicians may run checks for ticket #{ $ticket }
notify-consent-expiring = Permission to run checks for ticket #{ $ticket } ends soon

# What the agent sees, one message and its advice per kind of finding. $about names the thing (a disk, a program, a
# sensor, the server's address); $figure is a rounded percentage or degrees Celsius.
finding-disk-nearly-full = The disk { $about } is { $figure }% full.
finding-disk-nearly-full-advice = Empty the trash and remove large files you no longer need from { $about }.
finding-memory-pressure = The computer is running out of memory: only { $figure }% is free.
finding-memory-pressure-advice = Save your work, then close programs and browser tabs you are not using.
finding-swap-heavy = The computer has run short of memory for a while and is slowing down.
finding-swap-heavy-advice = Save your work and restart the computer.
finding-no-default-route = There is no network route: this computer cannot reach the internet.
finding-no-default-route-advice = Check that the network cable is plugged in, or that Wi-Fi is switched on and connected.
finding-dns-failing = Names are not resolving: websites cannot be found.
finding-dns-failing-advice = Turn Wi-Fi off and on again, or restart your router, then try again.
finding-server-unreachable = The computer cannot reach the help desk's server ({ $about }).
finding-server-unreachable-advice = Check that you are connected to the internet, then try again in a few minutes.
finding-runaway-process = The program "{ $about }" is keeping the processor busy.
finding-runaway-process-advice = If "{ $about }" is not doing something you asked for, save your work, close it and open it again.
finding-high-temperature = The computer is overheating ({ $about } at { $figure } °C).
finding-high-temperature-advice = Make sure the air vents are not blocked, put the computer on a hard surface and let it cool down.
finding-battery-low = The battery is nearly empty ({ $figure }%).
finding-battery-low-advice = Plug in the charger.
