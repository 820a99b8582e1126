<?php
// The original design's PHP worker, as tq's HTTP relay calls it in query mode:
//   GET worker.php?message=<url-encoded JSON of the flat task>
// It decodes the task and switches on its type, as the design showed. Mail goes through SMTP to
// SMTP_URL when it is set (the local sink of `tq up`), else through PHP's mail().
// Serve it with: php -S 127.0.0.1:8000 -t examples/php-worker
// The relay settles the task by the answer: 2xx done, 4xx dead-lettered with the body as reason,
// 5xx retried.

$message = json_decode($_GET['message'] ?? '');
if (!is_object($message) || !isset($message->task)) {
    http_response_code(400);
    echo 'no task in ?message=';
    exit;
}

switch ($message->task) {
    case 'send_email':
        $from = $message->from ?? 'tq <no-reply@tq.local>';
        $to = is_array($message->to) ? implode(', ', $message->to) : $message->to;
        $error = send_mail($to, $message->subject, $message->body ?? '', 'From: ' . $from);
        if ($error !== null) {
            // A refused recipient will be refused again: say so with a 4xx; anything else may pass later.
            http_response_code(str_starts_with($error, '5') ? 422 : 503);
            echo $error;
            exit;
        }
        echo 'sent';
        break;
    case 'process_image':
    case 'cleanup_data':
    case 'generate_report':
        // The Node workers handle these; this example shows the shape of a worker in PHP with email.
        http_response_code(400);
        echo "this PHP example handles send_email only, not {$message->task}";
        break;
    default:
        http_response_code(400);
        echo "unknown task {$message->task}";
}

/**
 * mail() when SMTP_URL is unset; otherwise one SMTP conversation with that server (no auth, no
 * TLS: the local sink). Returns null when the server accepted the mail, else its answer.
 */
function send_mail(string $to, string $subject, string $body, string $headers): ?string
{
    $url = getenv('SMTP_URL');
    if ($url === false || $url === '') {
        return mail($to, $subject, $body, $headers) ? null : '451 mail() failed';
    }
    $parts = parse_url($url);
    $socket = @fsockopen($parts['host'] ?? '127.0.0.1', $parts['port'] ?? 25, $errno, $errstr, 10);
    if ($socket === false) {
        return "421 cannot connect to $url: $errstr";
    }
    $from = preg_match('/<([^>]+)>/', $headers, $m) ? $m[1] : trim(substr($headers, strlen('From: ')));
    $recipients = array_map('trim', explode(',', $to));
    $lines = "From: " . trim(substr($headers, strlen('From: '))) . "\r\n"
        . "To: $to\r\n"
        . "Subject: $subject\r\n"
        . "Date: " . date(DATE_RFC2822) . "\r\n"
        . "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        // Dot-stuffing: a line starting with "." gets another one.
        . preg_replace('/^\./m', '..', str_replace(["\r\n", "\n"], "\r\n", $body)) . "\r\n";
    $steps = [[null, '220'], ['EHLO php-worker', '250'], ["MAIL FROM:<$from>", '250']];
    foreach ($recipients as $recipient) {
        $address = preg_match('/<([^>]+)>/', $recipient, $m) ? $m[1] : $recipient;
        $steps[] = ["RCPT TO:<$address>", '250'];
    }
    array_push($steps, ['DATA', '354'], [$lines . '.', '250'], ['QUIT', '221']);
    foreach ($steps as [$command, $expected]) {
        if ($command !== null) {
            fwrite($socket, $command . "\r\n");
        }
        $reply = read_reply($socket);
        if (!str_starts_with($reply, $expected)) {
            fclose($socket);
            return $reply === '' ? '421 connection closed' : $reply;
        }
    }
    fclose($socket);
    return null;
}

/** One SMTP reply, multi-line replies ("250-...") included. */
function read_reply($socket): string
{
    $reply = '';
    while (($line = fgets($socket, 1024)) !== false) {
        $reply .= $line;
        if (strlen($line) < 4 || $line[3] !== '-') {
            break;
        }
    }
    return trim($reply);
}
