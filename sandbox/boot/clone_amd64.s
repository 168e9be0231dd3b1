#include "textflag.h"

// func cloneOnStack(flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (pid, errno uintptr)
//
// clone(2) with the child on its own stack, where it calls
// childMain(region, a, b) and never returns. CX and R11 do not survive
// the system call; the arguments go over in R12, R13 and BX.
TEXT ·cloneOnStack(SB),NOSPLIT|NOFRAME,$0-56
	MOVQ	flags+0(FP), DI
	MOVQ	stack+8(FP), SI
	MOVQ	region+16(FP), R12
	MOVQ	a+24(FP), R13
	MOVQ	b+32(FP), BX
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$56, AX // SYS_clone
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+40(FP)
	MOVQ	AX, errno+48(FP)
	RET
ok:
	MOVQ	AX, pid+40(FP)
	MOVQ	$0, errno+48(FP)
	RET
child:
	MOVQ	SI, SP
	MOVQ	R12, 0(SP)
	MOVQ	R13, 8(SP)
	MOVQ	BX, 16(SP)
	// Called through a register: the linker's check of nosplit stacks
	// would otherwise count this new stack as the parent's.
	MOVQ	$·childMain(SB), AX
	CALL	AX
	MOVL	$127, DI
	MOVL	$231, AX // SYS_exit_group
	SYSCALL
	INT	$3

// func clone3OnStack(args unsafe.Pointer, stack uintptr, region unsafe.Pointer, a, b uintptr) (pid, errno uintptr)
//
// The same with clone3(2), whose struct clone_args is at args (88 bytes,
// through cgroup): the child starts in the cgroup it names. R9 survives
// the system call and carries the stack's top over.
TEXT ·clone3OnStack(SB),NOSPLIT|NOFRAME,$0-56
	MOVQ	args+0(FP), DI
	MOVQ	stack+8(FP), R9
	MOVQ	region+16(FP), R12
	MOVQ	a+24(FP), R13
	MOVQ	b+32(FP), BX
	MOVQ	$88, SI
	MOVQ	$435, AX // SYS_clone3
	SYSCALL
	CMPQ	AX, $0
	JEQ	child3
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok3
	NEGQ	AX
	MOVQ	$0, pid+40(FP)
	MOVQ	AX, errno+48(FP)
	RET
ok3:
	MOVQ	AX, pid+40(FP)
	MOVQ	$0, errno+48(FP)
	RET
child3:
	MOVQ	R9, SP
	MOVQ	R12, 0(SP)
	MOVQ	R13, 8(SP)
	MOVQ	BX, 16(SP)
	MOVQ	$·childMain(SB), AX
	CALL	AX
	MOVL	$127, DI
	MOVL	$231, AX // SYS_exit_group
	SYSCALL
	INT	$3
