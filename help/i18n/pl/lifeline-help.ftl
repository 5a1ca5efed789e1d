# Lifeline na pulpicie. Każdy plik w help/i18n ma dokładnie te same identyfikatory co en/ (sprawdza to test).

app-title = Pomoc Lifeline
tab-help = Poproś o pomoc
tab-tickets = Moje zgłoszenia
tab-consent = Zgoda
close = Zamknij
refresh = Odśwież
loading = Wczytywanie…

advice-title = Co Lifeline widzi na tym komputerze
advice-looking = Sprawdzanie komputera…
advice-skip = Pomiń i opisz problem
advice-continue = Dalej
advice-none = W tej chwili nic nie wskazuje na problem z tym komputerem.
advice-unavailable = Lifeline nie może teraz sprawdzić tego komputera. Nadal możesz opisać problem.
advice-question = Czy to rozwiązało problem?
advice-not-solved = Nie, nadal potrzebuję pomocy
advice-solved = Tak, rozwiązane

form-title = Opisz problem
form-subject = Temat
form-description = Co się stało? (opcjonalnie)
form-too-long = { $bytes } z maksymalnie { $max } bajtów: skróć opis.
form-send = Wyślij
form-sending = Wysyłanie…
form-send-hint = Ctrl+Enter wysyła.

solved-title = Dobrze, że rozwiązane
solved-body = Nic nie zostało wysłane do działu pomocy. Jeśli problem wróci, otwórz ponownie Poproś o pomoc.
solved-still-need-help = Jednak potrzebuję pomocy

sent-accepted = Twoja prośba to zgłoszenie #{ $ticket }
sent-next = Zajmie się nią technik. Gdy odpowie, dostaniesz powiadomienie, a całość możesz śledzić w Moich zgłoszeniach. Dopóki zgłoszenie jest otwarte, pracujący nad nim technicy mogą uruchamiać zatwierdzone testy na tym komputerze; w zakładce Zgoda widać, jak długo, i można to zatrzymać.
sent-queued-title = Twoja prośba jest zapisana na tym komputerze
sent-queued = Dział pomocy jest teraz nieosiągalny. Prośba zostanie zachowana i wysłana, razem z tym, co Lifeline widzi na tym komputerze, gdy tylko wróci połączenie. Wtedy pojawi się w Moich zgłoszeniach.
sent-show-tickets = Pokaż moje zgłoszenia
sent-another = Poproś o coś innego

tickets-title = Moje zgłoszenia
tickets-none = Nie masz żadnych zgłoszeń.
tickets-open = Otwórz zgłoszenie #{ $ticket }

ticket-back = Wróć do moich zgłoszeń
ticket-title = Zgłoszenie #{ $ticket }: { $subject }
ticket-status = Stan: { $status }
ticket-closed = To zgłoszenie jest zamknięte. Jeśli problem wrócił, poproś o pomoc ponownie.
ticket-reopen-hint = To zgłoszenie jest rozwiązane. Odpowiedź otworzy je ponownie.
ticket-answer = Twoja odpowiedź
ticket-send-answer = Wyślij odpowiedź
ticket-solved = Rozwiązane
ticket-no-entries = Jeszcze brak odpowiedzi.
ticket-you = Ty
ticket-status-changed = Stan zmieniony na { $status }

ago-now = przed chwilą
ago-minutes = { $n ->
    [one] { $n } minutę temu
    [few] { $n } minuty temu
   *[many] { $n } minut temu
}
ago-hours = { $n ->
    [one] { $n } godzinę temu
    [few] { $n } godziny temu
   *[many] { $n } godzin temu
}
ago-days = { $n ->
    [one] { $n } dzień temu
   *[other] { $n } dni temu
}

consent-title = Kto może tu uruchamiać testy
consent-explain = Dopóki okno jest otwarte, technicy pracujący nad tym zgłoszeniem mogą uruchamiać zatwierdzone testy na tym komputerze. O każdym teście dostajesz powiadomienie.
consent-unattended = Zasady tego komputera pozwalają technikom w każdej chwili uruchamiać testy tylko do odczytu, bez okna.
consent-none = Żadne okno nie jest otwarte: nikt nie może teraz uruchamiać testów dla zgłoszenia.
consent-window = Zgłoszenie #{ $ticket }
consent-left = { $minutes ->
    [one] została { $minutes } minuta
    [few] zostały { $minutes } minuty
   *[many] zostało { $minutes } minut
}
consent-extend-ticket = Przedłuż zgłoszenie #{ $ticket } o { $minutes } minut
consent-revoke-ticket = Cofnij dla zgłoszenia #{ $ticket }
consent-extend = Przedłuż o { $minutes } minut
consent-revoke = Cofnij

error-agent-down = Lifeline nie działa na tym komputerze, więc nic nie zostało wysłane. Wpisany tekst pozostaje: spróbuj za chwilę albo zadzwoń do działu pomocy.
error-agent-untrusted = Połączenie z Lifeline na tym komputerze nie jest bezpiecznie skonfigurowane, więc nic nie zostało wysłane. Zadzwoń do działu pomocy.
error-agent-slow = Lifeline nie odpowiedział na czas. Wpisany tekst pozostaje: spróbuj ponownie.
error-agent-broken = Lifeline dał odpowiedź, której ten program nie umie odczytać. Wpisany tekst pozostaje: spróbuj ponownie albo zadzwoń do działu pomocy.
error-agent-said = Lifeline: { $message }
error-subject-missing = Podaj temat: kilka słów o problemie.
error-subject-long = Temat ma { $bytes } bajtów; mieści się najwyżej { $max }. Skróć go.
error-description-long = Opis ma { $bytes } bajtów; mieści się najwyżej { $max }. Skróć go.
error-reply-missing = Najpierw napisz odpowiedź.
error-reply-long = Odpowiedź ma { $bytes } bajtów; mieści się najwyżej { $max }. Skróć ją.

msg-reply-sent = Odpowiedź została wysłana.
msg-reply-queued = Odpowiedź jest zapisana i zostanie wysłana, gdy dział pomocy będzie osiągalny.
msg-solved-sent = Dziękujemy: dział pomocy wie, że problem jest rozwiązany.
msg-solved-queued = Dziękujemy: informacja trafi do działu pomocy, gdy będzie osiągalny.
msg-revoked = Technicy nie mogą już uruchamiać testów dla zgłoszenia #{ $ticket }.
msg-extended = Technicy mogą dłużej uruchamiać testy dla zgłoszenia #{ $ticket }.

status-new = Nowe
status-open = Otwarte
status-pending-user = Czeka na Ciebie
status-resolved = Rozwiązane
status-closed = Zamknięte

notify-reply = Nowa odpowiedź w zgłoszeniu #{ $ticket }
notify-status = Zgłoszenie #{ $ticket } się zmieniło
notify-check = Technik uruchomił „{ $check }” dla zgłoszenia #{ $ticket }
notify-check-no-ticket = Technik uruchomił „{ $check }” na tym komputerze
notify-consent-opened = Technicy mogą uruchamiać testy dla zgłoszenia #{ $ticket }
notify-consent-expiring = Zgoda na testy dla zgłoszenia #{ $ticket } wkrótce wygaśnie

finding-disk-nearly-full = Dysk { $about } jest zapełniony w { $figure }%.
finding-disk-nearly-full-advice = Opróżnij kosz i usuń z { $about } duże pliki, których już nie potrzebujesz.
finding-memory-pressure = Komputerowi kończy się pamięć: wolne jest tylko { $figure }%.
finding-memory-pressure-advice = Zapisz swoją pracę, a potem zamknij nieużywane programy i karty przeglądarki.
finding-swap-heavy = Komputerowi od dłuższego czasu brakuje pamięci i działa coraz wolniej.
finding-swap-heavy-advice = Zapisz swoją pracę i uruchom komputer ponownie.
finding-no-default-route = Brak trasy sieciowej: ten komputer nie może połączyć się z internetem.
finding-no-default-route-advice = Sprawdź, czy kabel sieciowy jest podłączony albo czy Wi-Fi jest włączone i połączone.
finding-dns-failing = Nazwy nie są rozpoznawane: nie można znaleźć stron internetowych.
finding-dns-failing-advice = Wyłącz i włącz ponownie Wi-Fi albo uruchom ponownie router, a potem spróbuj jeszcze raz.
finding-server-unreachable = Komputer nie może połączyć się z serwerem działu pomocy ({ $about }).
finding-server-unreachable-advice = Sprawdź, czy masz połączenie z internetem, i spróbuj ponownie za kilka minut.
finding-runaway-process = Program „{ $about }” stale obciąża procesor.
finding-runaway-process-advice = Jeśli „{ $about }” nie robi niczego, o co prosisz, zapisz pracę, zamknij go i otwórz ponownie.
finding-high-temperature = Komputer się przegrzewa ({ $about }: { $figure } °C).
finding-high-temperature-advice = Upewnij się, że otwory wentylacyjne nie są zasłonięte, postaw komputer na twardej powierzchni i pozwól mu ostygnąć.
finding-battery-low = Bateria jest prawie rozładowana ({ $figure }%).
finding-battery-low-advice = Podłącz ładowarkę.
