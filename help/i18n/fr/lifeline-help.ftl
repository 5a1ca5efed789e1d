# Lifeline sur le bureau. Chaque fichier de help/i18n a exactement les mêmes ids que en/ (un test le vérifie).

app-title = Aide Lifeline
tab-help = Demander de l’aide
tab-tickets = Mes demandes
tab-consent = Autorisation
close = Fermer
refresh = Actualiser
loading = Chargement…

advice-title = Ce que Lifeline voit sur cet ordinateur
advice-looking = Examen de votre ordinateur…
advice-skip = Passer et décrire le problème
advice-continue = Continuer
advice-none = Rien ne semble anormal sur cet ordinateur pour le moment.
advice-unavailable = Lifeline ne peut pas examiner cet ordinateur pour le moment. Vous pouvez quand même décrire le problème.
advice-question = Cela a-t-il résolu votre problème ?
advice-not-solved = Non, j’ai encore besoin d’aide
advice-solved = Oui, c’est résolu

form-title = Décrivez le problème
form-subject = Objet
form-description = Que s’est-il passé ? (facultatif)
form-too-long = { $bytes } octets sur { $max } au plus : raccourcissez la description.
form-send = Envoyer
form-sending = Envoi en cours…
form-send-hint = Ctrl+Entrée envoie.

solved-title = Tant mieux, c’est résolu
solved-body = Rien n’a été envoyé au support. Si le problème revient, ouvrez à nouveau Demander de l’aide.
solved-still-need-help = J’ai quand même besoin d’aide

sent-accepted = Votre demande porte le numéro #{ $ticket }
sent-next = Un technicien va s’en occuper. Vous recevrez une notification quand il répondra, et vous pouvez suivre la demande dans Mes demandes. Tant qu’elle est ouverte, les techniciens qui la traitent peuvent lancer des vérifications approuvées sur cet ordinateur ; Autorisation indique pour combien de temps et permet d’y mettre fin.
sent-queued-title = Votre demande est enregistrée sur cet ordinateur
sent-queued = Le support est injoignable pour le moment. Votre demande est conservée et sera envoyée, avec ce que Lifeline voit sur cet ordinateur, dès le retour de la connexion. Elle apparaîtra alors dans Mes demandes.
sent-show-tickets = Voir mes demandes
sent-another = Demander autre chose

tickets-title = Mes demandes
tickets-none = Vous n’avez aucune demande.
tickets-open = Ouvrir la demande #{ $ticket }

ticket-back = Retour à mes demandes
ticket-title = Demande #{ $ticket } : { $subject }
ticket-status = État : { $status }
ticket-closed = Cette demande est fermée. Si le problème revient, demandez de l’aide à nouveau.
ticket-reopen-hint = Cette demande est résolue. Répondre la rouvre.
ticket-answer = Votre réponse
ticket-send-answer = Envoyer la réponse
ticket-solved = C’est résolu
ticket-no-entries = Pas encore de réponse.
ticket-you = Vous
ticket-status-changed = État passé à { $status }

ago-now = à l’instant
ago-minutes = { $n ->
    [one] il y a { $n } minute
   *[other] il y a { $n } minutes
}
ago-hours = { $n ->
    [one] il y a { $n } heure
   *[other] il y a { $n } heures
}
ago-days = { $n ->
    [one] il y a { $n } jour
   *[other] il y a { $n } jours
}

consent-title = Qui peut lancer des vérifications ici
consent-explain = Tant qu’une fenêtre est ouverte, les techniciens qui traitent cette demande peuvent lancer des vérifications approuvées sur cet ordinateur. Chaque vérification vous est notifiée.
consent-unattended = La politique de cet ordinateur permet aux techniciens de lancer à tout moment des vérifications en lecture seule, sans fenêtre.
consent-none = Aucune fenêtre n’est ouverte : personne ne peut lancer de vérification pour une demande en ce moment.
consent-window = Demande #{ $ticket }
consent-left = { $minutes ->
    [one] encore { $minutes } minute
   *[other] encore { $minutes } minutes
}
consent-extend-ticket = Prolonger la demande #{ $ticket } de { $minutes } minutes
consent-revoke-ticket = Retirer pour la demande #{ $ticket }
consent-extend = Prolonger de { $minutes } minutes
consent-revoke = Retirer

error-agent-down = Lifeline ne fonctionne pas sur cet ordinateur, rien n’a donc été envoyé. Ce que vous avez saisi est conservé : réessayez dans un instant ou appelez le support.
error-agent-untrusted = La connexion à Lifeline sur cet ordinateur n’est pas configurée de façon sûre, rien n’a donc été envoyé. Appelez le support.
error-agent-slow = Lifeline n’a pas répondu à temps. Ce que vous avez saisi est conservé : réessayez.
error-agent-broken = Lifeline a donné une réponse illisible pour ce programme. Ce que vous avez saisi est conservé : réessayez ou appelez le support.
error-agent-said = Lifeline indique : { $message }
error-subject-missing = Indiquez un objet : quelques mots sur le problème.
error-subject-long = L’objet fait { $bytes } octets ; { $max } au plus. Raccourcissez-le.
error-description-long = La description fait { $bytes } octets ; { $max } au plus. Raccourcissez-la.
error-reply-missing = Écrivez d’abord votre réponse.
error-reply-long = La réponse fait { $bytes } octets ; { $max } au plus. Raccourcissez-la.

msg-reply-sent = Votre réponse a été envoyée.
msg-reply-queued = Votre réponse est enregistrée et partira dès que le support sera joignable.
msg-solved-sent = Merci : le support sait que c’est résolu.
msg-solved-queued = Merci : l’information partira dès que le support sera joignable.
msg-revoked = Les techniciens ne peuvent plus lancer de vérifications pour la demande #{ $ticket }.
msg-extended = Les techniciens peuvent lancer des vérifications plus longtemps pour la demande #{ $ticket }.

status-new = Nouvelle
status-open = Ouverte
status-pending-user = En attente de votre part
status-resolved = Résolue
status-closed = Fermée

notify-reply = Nouvelle réponse à la demande #{ $ticket }
notify-status = La demande #{ $ticket } a changé
notify-check = Un technicien a lancé « { $check } » pour la demande #{ $ticket }
notify-check-no-ticket = Un technicien a lancé « { $check } » sur cet ordinateur
notify-consent-opened = Les techniciens peuvent lancer des vérifications pour la demande #{ $ticket }
notify-consent-expiring = L’autorisation de vérifications pour la demande #{ $ticket } se termine bientôt

finding-disk-nearly-full = Le disque { $about } est plein à { $figure } %.
finding-disk-nearly-full-advice = Videz la corbeille et supprimez de { $about } les gros fichiers dont vous n’avez plus besoin.
finding-memory-pressure = L’ordinateur manque de mémoire : seulement { $figure } % est libre.
finding-memory-pressure-advice = Enregistrez votre travail, puis fermez les programmes et les onglets du navigateur que vous n’utilisez pas.
finding-swap-heavy = L’ordinateur manque de mémoire depuis un moment et ralentit.
finding-swap-heavy-advice = Enregistrez votre travail et redémarrez l’ordinateur.
finding-no-default-route = Il n’y a pas de route réseau : cet ordinateur ne peut pas accéder à Internet.
finding-no-default-route-advice = Vérifiez que le câble réseau est branché, ou que le Wi-Fi est activé et connecté.
finding-dns-failing = Les noms ne sont pas résolus : les sites web sont introuvables.
finding-dns-failing-advice = Désactivez puis réactivez le Wi-Fi, ou redémarrez votre box, puis réessayez.
finding-server-unreachable = L’ordinateur ne peut pas joindre le serveur du support ({ $about }).
finding-server-unreachable-advice = Vérifiez que vous êtes connecté à Internet, puis réessayez dans quelques minutes.
finding-runaway-process = Le programme « { $about } » occupe le processeur.
finding-runaway-process-advice = Si « { $about } » ne fait pas quelque chose que vous avez demandé, enregistrez votre travail, fermez-le et rouvrez-le.
finding-high-temperature = L’ordinateur surchauffe ({ $about } à { $figure } °C).
finding-high-temperature-advice = Vérifiez que les aérations ne sont pas obstruées, posez l’ordinateur sur une surface dure et laissez-le refroidir.
finding-battery-low = La batterie est presque vide ({ $figure } %).
finding-battery-low-advice = Branchez le chargeur.
