"""``python -m d2lrnn launch``: start a parameter-server job with MXNet's own launcher.

Introduced in chapter 11. MXNet ships its launcher as the ``dmlc_tracker`` package
(``mxnet/tools/launch.py`` drives it): ``tracker.submit`` picks a port, starts the
scheduler and calls a submit function that starts the servers and workers. Four things stop
it from working here as shipped, each mended around it rather than inside it:

* on Python >= 3.9 it calls ``Thread.isAlive``, which is gone (``is_alive`` is the name);
* it replaces a 127.x address by the machine's external one, so a job on one machine
  needs a network; on one machine we give it 127.0.0.1;
* ps-lite reads an environment variable named ``PORT``: a stray one (many shells and
  notebook servers set it) makes processes bind the wrong port, so it is removed;
* its local launcher restarts a failed process, and when one fails for good the others wait
  for it forever, the scheduler included. Here every process, the scheduler too, is started in
  a session of its own and watched: when one fails (or the user interrupts, or ``timeout``
  passes), all are stopped and one line says which.
"""
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

from dmlc_tracker import tracker

from .commands import UserError

LOOPBACK = '127.0.0.1'


class LaunchError(RuntimeError):
    """A job that could not start or did not end well: one line saying which process."""


def clean_environment(extra=None):
    """``os.environ`` with ``extra`` added and without ``PORT`` (ps-lite reads it)."""
    env = dict(os.environ, **{key: str(value) for key, value in (extra or {}).items()})
    env.pop('PORT', None)
    return env


def read_hosts(path):
    """``[(host, ssh port)]`` from a file of ``host[:port]`` lines (``#`` comments)."""
    hosts = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                host, _, port = line.partition(':')
                hosts.append((host, port or '22'))
    if not hosts:
        raise LaunchError(f'{path} names no host (one host[:ssh port] per line)')
    return hosts


class Job:
    """The processes of one job, each in a session of its own, and their supervision."""

    def __init__(self, output=None):
        self.processes, self.lock, self.output = [], threading.Lock(), output

    def start(self, name, command, env, shell=False):
        process = subprocess.Popen(command, env=env, shell=shell, start_new_session=True,
                                   executable='/bin/bash' if shell else None,
                                   stdout=self.output, stderr=self.output)
        with self.lock:
            self.processes.append((name, process))
        return process

    def stop(self, grace=5.0):
        """SIGTERM every process group still running, SIGKILL what remains after ``grace``."""
        with self.lock:
            running = [p for _, p in self.processes if p.poll() is None]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for process in running:
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + grace
            while time.time() < deadline and any(p.poll() is None for p in running):
                time.sleep(0.05)
            running = [p for p in running if p.poll() is None]
            if not running:
                return

    def watch(self, num_workers, timeout):
        """Wait until every worker has ended well; ``LaunchError`` naming the first process
        that failed (all are stopped first)."""
        start = time.time()
        try:
            while True:
                with self.lock:
                    processes = list(self.processes)
                for name, process in processes:
                    code = process.poll()
                    if code not in (None, 0):
                        raise LaunchError(f'{name} failed (exit status {code}); every process '
                                          'of the job was stopped')
                workers = [p for name, p in processes if name.startswith('worker')]
                if len(workers) == num_workers and all(p.poll() == 0 for p in workers):
                    return
                if timeout and time.time() - start > timeout:
                    raise LaunchError(f'the job did not finish within {timeout:g} s (a scheduler '
                                      'that cannot be reached, or a process that hangs); every '
                                      'process was stopped')
                time.sleep(0.1)
        except KeyboardInterrupt:
            raise LaunchError('interrupted: every process of the job was stopped') from None
        finally:
            self.stop()


def launch(command, num_workers, num_servers=1, hosts_file=None, host_ip=None, timeout=None,
           env=None, output=None):
    """Run ``command`` (a list) as ``num_workers`` workers and ``num_servers`` servers plus a
    scheduler, on this machine or over ssh on the hosts of ``hosts_file``; return when every
    worker has ended with status 0, or raise ``LaunchError``.

    Introduced in chapter 11. ``env`` is added to every process's environment; ``output`` (a
    file) receives every process's output (default: this process's).
    """
    hosts = read_hosts(hosts_file) if hosts_file else None
    job, failures = Job(output), []
    base_env = clean_environment(env)

    def submit(nworker, nserver, envs):  # the submit function tracker.submit calls
        for task in range(nworker + nserver):
            role = 'worker' if task < nworker else 'server'
            name = f'{role} {task if role == "worker" else task - nworker}'
            extra = dict(envs, DMLC_ROLE=role, DMLC_TASK_ID=task)
            if hosts is None:
                job.start(name, command, clean_environment(dict(env or {}, DMLC_NODE_HOST=LOOPBACK,
                                                                **extra)))
            else:
                host, port = hosts[task % len(hosts)]
                exports = ' '.join(f'export {k}={shlex.quote(str(v))};' for k, v in
                                   dict(env or {}, **extra, DMLC_NODE_HOST=host).items())
                remote = (f'unset PORT; {exports} cd {shlex.quote(os.getcwd())}; '
                          f'{shlex.join(command)}')
                job.start(name, ['ssh', '-o', 'StrictHostKeyChecking=no', '-p', port, host,
                                 remote], base_env)

    class SchedulerProcess:  # what tracker.PSTracker runs the scheduler with, watched
        @staticmethod
        def check_call(cmd, env=None, shell=False, executable=None):
            job.start('the scheduler', cmd, clean_environment(env), shell=shell).wait()

    def run_tracker():
        try:
            tracker.submit(num_workers, num_servers, fun_submit=submit,
                           hostIP=host_ip or (LOOPBACK if hosts is None else 'auto'),
                           pscmd=shlex.join(command))
        except Exception as err:  # reported by the supervisor
            failures.append(err)

    patched = {'get_host_ip': tracker.get_host_ip, 'subprocess': tracker.subprocess}
    tracker.subprocess = SchedulerProcess
    if hosts is None:
        tracker.get_host_ip = lambda host_ip=None: LOOPBACK  # not the external address
    if not hasattr(threading.Thread, 'isAlive'):
        threading.Thread.isAlive = threading.Thread.is_alive  # removed in Python 3.9
    try:
        thread = threading.Thread(target=run_tracker, daemon=True)
        thread.start()
        deadline = time.time() + 30
        try:
            while len(job.processes) < num_workers + num_servers + 1 and not failures:
                if time.time() > deadline:
                    raise LaunchError('the launcher did not start every process within 30 s')
                time.sleep(0.05)
            if failures:
                raise LaunchError(f'the launcher failed: {failures[0]}')
        except KeyboardInterrupt:
            job.stop()
            raise LaunchError('interrupted: every process of the job was stopped') from None
        except LaunchError:
            job.stop()
            raise
        job.watch(num_workers, timeout)
    finally:
        for name, value in patched.items():
            setattr(tracker, name, value)
    return 0



def run_launch(args):
    """``python -m d2lrnn launch``: the parsed options of ``cli``."""
    command = [sys.executable, '-m', 'd2lrnn'] + args.train
    try:
        launch(command, args.num_workers, args.num_servers, args.hosts, timeout=args.timeout)
    except (LaunchError, OSError) as err:
        raise UserError(str(err)) from None
