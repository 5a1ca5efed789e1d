# Lifeline op het bureaublad. Elk bestand in help/i18n heeft precies dezelfde ids als en/ (een test controleert dat).

app-title = Lifeline hulp
tab-help = Hulp vragen
tab-tickets = Mijn meldingen
tab-consent = Toestemming
close = Sluiten
refresh = Vernieuwen
loading = Laden…

advice-title = Wat Lifeline op deze computer ziet
advice-looking = Uw computer wordt bekeken…
advice-skip = Overslaan en het probleem beschrijven
advice-continue = Verder
advice-none = Er lijkt op dit moment niets mis met deze computer.
advice-unavailable = Lifeline kan nu niet naar deze computer kijken. U kunt het probleem wel beschrijven.
advice-question = Is uw probleem hiermee opgelost?
advice-not-solved = Nee, ik heb nog hulp nodig
advice-solved = Ja, het is opgelost

form-title = Beschrijf het probleem
form-subject = Onderwerp
form-description = Wat is er gebeurd? (optioneel)
form-too-long = { $bytes } van maximaal { $max } bytes: maak de beschrijving korter.
form-send = Versturen
form-sending = Bezig met versturen…
form-send-hint = Ctrl+Enter verstuurt.

solved-title = Fijn dat het is opgelost
solved-body = Er is niets naar de helpdesk gestuurd. Komt het probleem terug, open dan opnieuw Hulp vragen.
solved-still-need-help = Ik heb toch hulp nodig

sent-accepted = Uw vraag is melding #{ $ticket }
sent-next = Een technicus gaat ernaar kijken. U krijgt een melding op uw scherm als die antwoordt, en u kunt alles volgen onder Mijn meldingen. Zolang de melding open is, mogen technici die eraan werken goedgekeurde controles op deze computer uitvoeren; onder Toestemming ziet u hoe lang nog en kunt u dat stoppen.
sent-queued-title = Uw vraag is op deze computer bewaard
sent-queued = De helpdesk is nu niet bereikbaar. Uw vraag wordt bewaard en verstuurd, met wat Lifeline op deze computer ziet, zodra de verbinding terug is. Daarna staat ze onder Mijn meldingen.
sent-show-tickets = Mijn meldingen tonen
sent-another = Iets anders vragen

tickets-title = Mijn meldingen
tickets-none = U hebt geen meldingen.
tickets-open = Melding #{ $ticket } openen

ticket-back = Terug naar mijn meldingen
ticket-title = Melding #{ $ticket }: { $subject }
ticket-status = Status: { $status }
ticket-closed = Deze melding is gesloten. Is het probleem terug, vraag dan opnieuw hulp.
ticket-reopen-hint = Deze melding is opgelost. Als u antwoordt, gaat ze weer open.
ticket-answer = Uw antwoord
ticket-send-answer = Antwoord versturen
ticket-solved = Het is opgelost
ticket-no-entries = Nog geen antwoorden.
ticket-you = U
ticket-status-changed = Status gewijzigd in { $status }

ago-now = zojuist
ago-minutes = { $n ->
    [one] { $n } minuut geleden
   *[other] { $n } minuten geleden
}
ago-hours = { $n } uur geleden
ago-days = { $n ->
    [one] { $n } dag geleden
   *[other] { $n } dagen geleden
}

consent-title = Wie hier controles mag uitvoeren
consent-explain = Zolang een venster open is, mogen technici die aan die melding werken goedgekeurde controles op deze computer uitvoeren. U krijgt bij elke controle een melding op uw scherm.
consent-unattended = Het beleid van deze computer laat technici op elk moment controles uitvoeren die alleen lezen, zonder venster.
consent-none = Er is geen venster open: niemand mag nu controles voor een melding uitvoeren.
consent-window = Melding #{ $ticket }
consent-left = { $minutes ->
    [one] nog { $minutes } minuut
   *[other] nog { $minutes } minuten
}
consent-extend-ticket = Melding #{ $ticket } met { $minutes } minuten verlengen
consent-revoke-ticket = Intrekken voor melding #{ $ticket }
consent-extend = Met { $minutes } minuten verlengen
consent-revoke = Intrekken

error-agent-down = Lifeline draait niet op deze computer, dus er is niets verstuurd. Wat u typte blijft staan: probeer het zo opnieuw, of bel de helpdesk.
error-agent-untrusted = De verbinding met Lifeline op deze computer is niet veilig ingesteld, dus er is niets verstuurd. Bel de helpdesk.
error-agent-slow = Lifeline antwoordde niet op tijd. Wat u typte blijft staan: probeer het opnieuw.
error-agent-broken = Lifeline gaf een antwoord dat dit programma niet kan lezen. Wat u typte blijft staan: probeer het opnieuw, of bel de helpdesk.
error-agent-said = Lifeline meldt: { $message }
error-subject-missing = Geef een onderwerp: een paar woorden over het probleem.
error-subject-long = Het onderwerp is { $bytes } bytes lang; er passen er hoogstens { $max }. Maak het korter.
error-description-long = De beschrijving is { $bytes } bytes lang; er passen er hoogstens { $max }. Maak haar korter.
error-reply-missing = Schrijf eerst uw antwoord.
error-reply-long = Het antwoord is { $bytes } bytes lang; er passen er hoogstens { $max }. Maak het korter.

msg-reply-sent = Uw antwoord is verstuurd.
msg-reply-queued = Uw antwoord is bewaard en gaat weg zodra de helpdesk bereikbaar is.
msg-solved-sent = Dank u: de helpdesk weet dat het is opgelost.
msg-solved-queued = Dank u: dit gaat naar de helpdesk zodra die bereikbaar is.
msg-revoked = Technici mogen geen controles meer uitvoeren voor melding #{ $ticket }.
msg-extended = Technici mogen langer controles uitvoeren voor melding #{ $ticket }.

status-new = Nieuw
status-open = Open
status-pending-user = Wacht op u
status-resolved = Opgelost
status-closed = Gesloten

notify-reply = Nieuw antwoord op melding #{ $ticket }
notify-status = Melding #{ $ticket } is gewijzigd
notify-check = Een technicus voerde “{ $check }” uit voor melding #{ $ticket }
notify-check-no-ticket = Een technicus voerde “{ $check }” uit op deze computer
notify-consent-opened = Technici mogen controles uitvoeren voor melding #{ $ticket }
notify-consent-expiring = De toestemming voor controles voor melding #{ $ticket } loopt bijna af

finding-disk-nearly-full = De schijf { $about } is voor { $figure }% vol.
finding-disk-nearly-full-advice = Leeg de prullenbak en verwijder grote bestanden die u niet meer nodig hebt uit { $about }.
finding-memory-pressure = De computer heeft bijna geen geheugen meer: nog maar { $figure }% is vrij.
finding-memory-pressure-advice = Sla uw werk op en sluit programma's en browsertabbladen die u niet gebruikt.
finding-swap-heavy = De computer heeft al een tijd te weinig geheugen en wordt trager.
finding-swap-heavy-advice = Sla uw werk op en start de computer opnieuw op.
finding-no-default-route = Er is geen netwerkroute: deze computer kan het internet niet bereiken.
finding-no-default-route-advice = Controleer of de netwerkkabel is aangesloten, of dat wifi aanstaat en verbonden is.
finding-dns-failing = Namen worden niet gevonden: websites zijn onbereikbaar.
finding-dns-failing-advice = Zet wifi uit en weer aan, of herstart uw router, en probeer het opnieuw.
finding-server-unreachable = De computer kan de server van de helpdesk niet bereiken ({ $about }).
finding-server-unreachable-advice = Controleer of u met het internet verbonden bent en probeer het over een paar minuten opnieuw.
finding-runaway-process = Het programma "{ $about }" houdt de processor bezig.
finding-runaway-process-advice = Als "{ $about }" niet iets doet waar u om vroeg, sla dan uw werk op, sluit het en open het opnieuw.
finding-high-temperature = De computer wordt te warm ({ $about } op { $figure } °C).
finding-high-temperature-advice = Zorg dat de ventilatieopeningen vrij zijn, zet de computer op een harde ondergrond en laat hem afkoelen.
finding-battery-low = De batterij is bijna leeg ({ $figure }%).
finding-battery-low-advice = Sluit de oplader aan.
