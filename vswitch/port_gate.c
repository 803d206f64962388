/* SPDX-License-Identifier: BSD-3-Clause */
#include "port_gate.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/membarrier.h>

#include <rte_pause.h>

#include "e2/log.h"

E2_LOG_MODULE(gate);

bool e2_gate_asymmetric; /* written once, before the first port opens */
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void setup(void)
{
	e2_gate_asymmetric = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	if (!e2_gate_asymmetric)
		E2_INFO("membarrier unavailable: each burst through a gate takes a full fence");
}

void e2_gate_setup(void)
{
	pthread_once(&setup_once, setup);
}

/* The rare side of the fence: after this, a burst either is marked busy where we can
 * see it or sees the gate shut. Once registered, the expedited command cannot fail
 * (membarrier(2)); unregistered, bursts fence themselves and this side only needs
 * its own. */
static void fence_everyone(void)
{
	if (e2_gate_asymmetric)
		(void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

void e2_gate_close(struct e2_gate *g)
{
	atomic_store(&g->open, false);
	fence_everyone();
}

void e2_gate_wait(const struct e2_gate_mark *marks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		while (atomic_load_explicit(&marks[i].busy, memory_order_seq_cst))
			rte_pause();
}
