#include "textflag.h"

// func cloneOnStack(nr, arg0, arg1, stack uintptr, region unsafe.Pointer, a, b uintptr) (pid, errno uintptr)
//
// clone(2) (nr 56: arg0 the flags, arg1 the stack) or clone3(2) (nr 435:
// arg0 its struct clone_args, arg1 the struct's size), with the child on
// the stack whose top is stack, where it calls childMain(region, a, b)
// and never returns. CX and R11 do not survive the system call; the
// stack and the arguments go over in R9, R12, R13 and BX.
TEXT ·cloneOnStack(SB),NOSPLIT|NOFRAME,$0-72
	MOVQ	nr+0(FP), AX
	MOVQ	arg0+8(FP), DI
	MOVQ	arg1+16(FP), SI
	MOVQ	stack+24(FP), R9
	MOVQ	region+32(FP), R12
	MOVQ	a+40(FP), R13
	MOVQ	b+48(FP), BX
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+56(FP)
	MOVQ	AX, errno+64(FP)
	RET
ok:
	MOVQ	AX, pid+56(FP)
	MOVQ	$0, errno+64(FP)
	RET
child:
	MOVQ	R9, SP
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
