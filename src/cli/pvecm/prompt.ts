// Terminal prompts: a line, or a secret without echo.
export function askLine(question: string): Promise<string> {
  return ask(question, false);
}

export function askSecret(question: string): Promise<string> {
  return ask(question, true);
}

function ask(question: string, secret: boolean): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    const raw = secret && stdin.isTTY;
    if (raw) stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let buf = '';
    const onData = (d: string) => {
      for (const ch of d) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.off('data', onData);
          if (raw) stdin.setRawMode(false);
          stdin.pause();
          if (secret) process.stderr.write('\n');
          resolve(buf);
          return;
        }
        if (ch === '\u0003') {
          if (raw) stdin.setRawMode(false);
          process.exit(130);
        }
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}
