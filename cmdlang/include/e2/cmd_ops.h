/* SPDX-License-Identifier: BSD-3-Clause */
/* The operations of the command language: one row each, the only list of them.
 *
 *   X(name, words, OP, workers, usage)
 *
 * name     names the row's functions: parse_NAME and print_NAME (cmdlang/parse.c,
 *          print.c), check_NAME (cmdlang/check.c), run_NAME (e2d: vswitch/ctl.c);
 * words    the words that start the line ("port add");
 * OP       the Request's oneof case, E2__DP__REQUEST__OP_<OP> (proto/e2d.proto);
 * workers  MAY_PAUSE when the operation changes what e2d's workers read (its run
 *          function pauses them around the change itself, so that slow preparation
 *          does not stall traffic), NEVER_PAUSES when it only reads;
 * usage    its lines of the usage text, which is the rows' texts in this order (a
 *          short command may share a line: its text then ends without a newline).
 *
 * A new command is a row here and its functions; the parser, the printer, the usage
 * text, the checks and e2d's dispatcher are all built from this list. */
#ifndef E2_CMD_OPS_H
#define E2_CMD_OPS_H

#define E2_CMD_OPS(X)                                                                                        \
	X(port_add, "port add", PORT_CREATE, MAY_PAUSE,                                                      \
	  "  port add NAME DRIVER [KEY=VALUE...]     drivers: vhost virtio_user memif pmd nf\n")             \
	X(port_del, "port del", PORT_DESTROY, MAY_PAUSE, "  port del NAME\n")                                \
	X(module_add, "module add", MODULE_CREATE, MAY_PAUSE,                                                \
	  "  module add NAME CLASS [KEY=VALUE...]    see `classes`\n")                                       \
	X(module_del, "module del", MODULE_DESTROY, MAY_PAUSE, "  module del NAME\n")                        \
	X(module_cmd, "module cmd", MODULE_COMMAND, MAY_PAUSE, "  module cmd NAME COMMAND [KEY=VALUE...]\n") \
	X(connect, "connect", CONNECT, MAY_PAUSE, "  connect FROM[:OGATE] TO[:IGATE]\n")                     \
	X(disconnect, "disconnect", DISCONNECT, MAY_PAUSE, "  disconnect FROM[:OGATE]\n")                    \
	X(insert, "insert", INSERT, MAY_PAUSE,                                                               \
	  "  insert FROM[:OGATE] MODULE              put MODULE on that edge, atomically\n")                 \
	X(capture, "capture", CAPTURE, MAY_PAUSE,                                                            \
	  "  capture MODULE[:OGATE]|PORT file=PATH [count=N] [seconds=S] [snaplen=N]\n"                      \
	  "  capture stop MODULE[:OGATE]|PORT\n")                                                            \
	X(worker_add, "worker add", WORKER_CREATE, MAY_PAUSE, "  worker add ID [core=N]\n")                  \
	X(task_attach, "task attach", TASK_ATTACH, MAY_PAUSE, "  task attach MODULE worker=ID\n")            \
	X(sched_add, "sched add", SCHED_ADD, MAY_PAUSE,                                                      \
	  "  sched add NAME policy=priority|weighted_fair|round_robin|rate_limit [parent=NODE|worker=ID]\n"  \
	  "        [share=W] [priority=P] [resource=cycles|packets|bits] [limit=PER_SECOND] [burst=N]\n")    \
	X(sched_attach, "sched attach", SCHED_ATTACH, MAY_PAUSE,                                             \
	  "  sched attach NAME parent=NODE [share=W] [priority=P]      (NAME: a node or a task module)\n")   \
	X(sched_set, "sched set", SCHED_SET, MAY_PAUSE,                                                      \
	  "  sched set NAME [share=W] [priority=P] [limit=N] [burst=N] [resource=R]\n")                      \
	X(sched_del, "sched del", SCHED_DEL, MAY_PAUSE, "  sched del NAME    ")                              \
	X(sched_show, "sched show", SCHED_SHOW, NEVER_PAUSES, "sched show [worker=ID]\n")                    \
	X(stats, "stats", STATS, MAY_PAUSE, "  stats [NAME] [reset]\n")                                      \
	X(log_set, "log set", LOG_SET, NEVER_PAUSES,                                                         \
	  "  log set SPEC                            e2d's log levels: LEVEL or MODULE:LEVEL,...\n")         \
	X(log_show, "log show", LOG_SHOW, NEVER_PAUSES,                                                      \
	  "  log show                                each log module and its level\n")                       \
	X(list, "list", LIST, NEVER_PAUSES, "  list | classes | ping | shutdown\n")                          \
	X(classes, "classes", LIST_CLASSES, NEVER_PAUSES, "")                                                \
	X(ping, "ping", PING, NEVER_PAUSES, "")                                                              \
	X(shutdown, "shutdown", SHUTDOWN, NEVER_PAUSES, "")

#endif
