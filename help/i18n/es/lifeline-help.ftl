# Lifeline en el escritorio. Cada archivo de help/i18n tiene exactamente los mismos ids que en/ (lo comprueba una prueba).

app-title = Ayuda de Lifeline
tab-help = Pedir ayuda
tab-tickets = Mis solicitudes
tab-consent = Permiso
close = Cerrar
refresh = Actualizar
loading = Cargando…

advice-title = Lo que Lifeline ve en este equipo
advice-looking = Revisando su equipo…
advice-skip = Omitir y describir el problema
advice-continue = Continuar
advice-none = Ahora mismo no parece haber nada mal en este equipo.
advice-unavailable = Lifeline no puede revisar este equipo ahora mismo. Aun así puede describir el problema.
advice-question = ¿Esto ha resuelto su problema?
advice-not-solved = No, todavía necesito ayuda
advice-solved = Sí, está resuelto

form-title = Describa el problema
form-subject = Asunto
form-description = ¿Qué ha pasado? (opcional)
form-too-long = { $bytes } de { $max } bytes como máximo: acorte la descripción.
form-send = Enviar
form-sending = Enviando…
form-send-hint = Ctrl+Intro envía.

solved-title = Nos alegra que esté resuelto
solved-body = No se ha enviado nada al servicio de ayuda. Si el problema vuelve, abra de nuevo Pedir ayuda.
solved-still-need-help = Aun así necesito ayuda

sent-accepted = Su solicitud es la #{ $ticket }
sent-next = Un técnico la revisará. Recibirá una notificación cuando responda, y puede seguirla en Mis solicitudes. Mientras esté abierta, los técnicos que la atienden pueden ejecutar comprobaciones aprobadas en este equipo; Permiso muestra durante cuánto tiempo y le deja detenerlo.
sent-queued-title = Su solicitud está guardada en este equipo
sent-queued = El servicio de ayuda no está disponible ahora. Su solicitud se guarda y se enviará, con lo que Lifeline ve en este equipo, en cuanto vuelva la conexión. Entonces aparecerá en Mis solicitudes.
sent-show-tickets = Ver mis solicitudes
sent-another = Pedir otra cosa

tickets-title = Mis solicitudes
tickets-none = No tiene solicitudes.
tickets-open = Abrir la solicitud #{ $ticket }

ticket-back = Volver a mis solicitudes
ticket-title = Solicitud #{ $ticket }: { $subject }
ticket-status = Estado: { $status }
ticket-closed = Esta solicitud está cerrada. Si el problema ha vuelto, pida ayuda de nuevo.
ticket-reopen-hint = Esta solicitud está resuelta. Si responde, se vuelve a abrir.
ticket-answer = Su respuesta
ticket-send-answer = Enviar respuesta
ticket-solved = Está resuelto
ticket-no-entries = Todavía no hay respuestas.
ticket-you = Usted
ticket-status-changed = Estado cambiado a { $status }

ago-now = ahora mismo
ago-minutes = { $n ->
    [one] hace { $n } minuto
   *[other] hace { $n } minutos
}
ago-hours = { $n ->
    [one] hace { $n } hora
   *[other] hace { $n } horas
}
ago-days = { $n ->
    [one] hace { $n } día
   *[other] hace { $n } días
}

consent-title = Quién puede ejecutar comprobaciones aquí
consent-explain = Mientras una ventana esté abierta, los técnicos que atienden esa solicitud pueden ejecutar comprobaciones aprobadas en este equipo. Recibirá una notificación de cada comprobación.
consent-unattended = La política de este equipo permite a los técnicos ejecutar en cualquier momento comprobaciones de solo lectura, sin ventana.
consent-none = No hay ninguna ventana abierta: nadie puede ejecutar comprobaciones para una solicitud ahora.
consent-window = Solicitud #{ $ticket }
consent-left = { $minutes ->
    [one] queda { $minutes } minuto
   *[other] quedan { $minutes } minutos
}
consent-extend-ticket = Ampliar la solicitud #{ $ticket } { $minutes } minutos
consent-revoke-ticket = Retirar para la solicitud #{ $ticket }
consent-extend = Ampliar { $minutes } minutos
consent-revoke = Retirar

error-agent-down = Lifeline no está funcionando en este equipo, así que no se ha enviado nada. Lo que ha escrito se conserva: inténtelo de nuevo en un momento o llame al servicio de ayuda.
error-agent-untrusted = La conexión con Lifeline en este equipo no está configurada de forma segura, así que no se ha enviado nada. Llame al servicio de ayuda.
error-agent-slow = Lifeline no respondió a tiempo. Lo que ha escrito se conserva: inténtelo de nuevo.
error-agent-broken = Lifeline dio una respuesta que este programa no puede leer. Lo que ha escrito se conserva: inténtelo de nuevo o llame al servicio de ayuda.
error-agent-said = Lifeline indica: { $message }
error-subject-missing = Indique un asunto: unas palabras sobre el problema.
error-subject-long = El asunto ocupa { $bytes } bytes; caben como máximo { $max }. Acórtelo.
error-description-long = La descripción ocupa { $bytes } bytes; caben como máximo { $max }. Acórtela.
error-reply-missing = Escriba primero su respuesta.
error-reply-long = La respuesta ocupa { $bytes } bytes; caben como máximo { $max }. Acórtela.

msg-reply-sent = Su respuesta se ha enviado.
msg-reply-queued = Su respuesta está guardada y se enviará en cuanto el servicio de ayuda esté disponible.
msg-solved-sent = Gracias: el servicio de ayuda sabe que está resuelto.
msg-solved-queued = Gracias: se lo comunicaremos al servicio de ayuda en cuanto esté disponible.
msg-revoked = Los técnicos ya no pueden ejecutar comprobaciones para la solicitud #{ $ticket }.
msg-extended = Los técnicos pueden ejecutar comprobaciones durante más tiempo para la solicitud #{ $ticket }.

status-new = Nueva
status-open = Abierta
status-pending-user = Esperando su respuesta
status-resolved = Resuelta
status-closed = Cerrada

notify-reply = Nueva respuesta en la solicitud #{ $ticket }
notify-status = La solicitud #{ $ticket } ha cambiado
notify-check = Un técnico ejecutó «{ $check }» para la solicitud #{ $ticket }
notify-check-no-ticket = Un técnico ejecutó «{ $check }» en este equipo
notify-consent-opened = Los técnicos pueden ejecutar comprobaciones para la solicitud #{ $ticket }
notify-consent-expiring = El permiso de comprobaciones para la solicitud #{ $ticket } termina pronto

finding-disk-nearly-full = El disco { $about } está lleno al { $figure } %.
finding-disk-nearly-full-advice = Vacíe la papelera y elimine de { $about } los archivos grandes que ya no necesite.
finding-memory-pressure = El equipo se está quedando sin memoria: solo queda libre el { $figure } %.
finding-memory-pressure-advice = Guarde su trabajo y cierre los programas y pestañas del navegador que no esté usando.
finding-swap-heavy = El equipo lleva un tiempo con poca memoria y va más lento.
finding-swap-heavy-advice = Guarde su trabajo y reinicie el equipo.
finding-no-default-route = No hay ruta de red: este equipo no puede acceder a internet.
finding-no-default-route-advice = Compruebe que el cable de red está conectado o que el wifi está activado y conectado.
finding-dns-failing = Los nombres no se resuelven: no se encuentran los sitios web.
finding-dns-failing-advice = Apague y vuelva a encender el wifi, o reinicie el router, y vuelva a intentarlo.
finding-server-unreachable = El equipo no puede conectar con el servidor del servicio de ayuda ({ $about }).
finding-server-unreachable-advice = Compruebe que está conectado a internet y vuelva a intentarlo en unos minutos.
finding-runaway-process = El programa «{ $about }» mantiene ocupado el procesador.
finding-runaway-process-advice = Si «{ $about }» no está haciendo algo que usted haya pedido, guarde su trabajo, ciérrelo y vuelva a abrirlo.
finding-high-temperature = El equipo se está sobrecalentando ({ $about } a { $figure } °C).
finding-high-temperature-advice = Asegúrese de que las rejillas de ventilación no estén tapadas, ponga el equipo sobre una superficie dura y deje que se enfríe.
finding-battery-low = La batería está casi vacía ({ $figure } %).
finding-battery-low-advice = Conecte el cargador.
